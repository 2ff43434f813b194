//! Real registry clients against `vouch serve`: skopeo, podman, buildah, umoci, oras, curl.
