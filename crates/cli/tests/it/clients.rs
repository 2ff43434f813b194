//! Real registry clients against `vouch serve`: skopeo, podman, buildah, umoci, oras, curl.
//!
//! Each test starts its own server and works in its own temporary directories, so tests run in
//! parallel. Images are built offline with umoci (or buildah), never pulled from the internet.
//! Everywhere, digests and manifest bytes must round-trip exactly: what a client sent is what
//! vouch serves, and what comes back hashes to the digest it was pushed under.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::common::*;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

// ---------------------------------------------------------------------------------------------
// skopeo and umoci

/// skopeo against an image umoci built offline (three layers, one of them 20 MB of random
/// bytes). Spec points: `/v2/` version check, blob HEAD existence probes, upload sessions
/// (POST, PATCH, PUT `?digest=`), OCI image manifest PUT by tag, manifest GET by tag and by
/// digest, blob GET, tags list, manifest DELETE by digest (then MANIFEST_UNKNOWN and an empty
/// tag list). The manifest bytes served are the layout's manifest blob, and a copy back with
/// `--preserve-digests` is identical to the source layout blob for blob.
#[test]
fn skopeo_round_trips_an_umoci_image_byte_for_byte() {
    let server = Server::start();
    let tmp = tempdir();
    let src = Layout::create(tmp.path().join("src"));
    src.image(
        "v1",
        "amd64",
        &[
            ("hello.txt", b"hello from vouch\n".to_vec()),
            ("random.bin", random_bytes(20 << 20)),
            ("config.toml", b"[app]\nlevel = 3\n".to_vec()),
        ],
    );
    src.gc();
    let (digest, manifest) = src.manifest("v1");
    let parsed: Value = serde_json::from_slice(&manifest).unwrap();
    assert_eq!(parsed["layers"].as_array().unwrap().len(), 3);

    let image = format!("docker://{}/team/app:v1", server.host());
    skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        "--preserve-digests",
        &src.reference("v1"),
        &image,
    ]);

    let inspect = json_of(&skopeo(&["inspect", "--tls-verify=false", &image]));
    assert_eq!(inspect["Digest"], digest.as_str());
    let layers: Vec<&str> = parsed["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap())
        .collect();
    assert_eq!(inspect["Layers"], json!(layers));
    assert_eq!(inspect["Architecture"], "amd64");

    let raw = skopeo(&["inspect", "--raw", "--tls-verify=false", &image]);
    assert_bytes_eq(raw.as_bytes(), &manifest, "manifest by tag");
    let by_digest = format!("docker://{}/team/app@{digest}", server.host());
    let raw = skopeo(&["inspect", "--raw", "--tls-verify=false", &by_digest]);
    assert_bytes_eq(raw.as_bytes(), &manifest, "manifest by digest");

    let tags = json_of(&skopeo(&[
        "list-tags",
        "--tls-verify=false",
        &format!("docker://{}/team/app", server.host()),
    ]));
    assert_eq!(tags["Tags"], json!(["v1"]));

    let back = Layout::at(tmp.path().join("back"));
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        "--preserve-digests",
        &image,
        &back.reference("v1"),
    ]);
    assert_eq!(back.manifest("v1").0, digest);
    assert_same_blobs(&src, &back);

    skopeo(&["delete", "--tls-verify=false", &image]);
    let err = fails(Command::new(tool("skopeo")).args([
        "inspect",
        "--raw",
        "--tls-verify=false",
        &image,
    ]));
    assert!(err.contains("manifest unknown"), "{err}");
    let r = http(
        "GET",
        server.addr,
        &format!("/v2/team/app/manifests/{digest}"),
        &[],
        b"",
    );
    assert_error(&r, 404, "MANIFEST_UNKNOWN");
    let tags = json_of(&skopeo(&[
        "list-tags",
        "--tls-verify=false",
        &format!("docker://{}/team/app", server.host()),
    ]));
    assert_eq!(tags["Tags"], json!([]));
}

/// skopeo `copy --all` of a two-platform OCI image index (umoci images, index written by hand).
/// Spec points: child manifests PUT by digest before the index that references them, OCI index
/// PUT by tag and served with its media type, child manifests GET by digest, the copy back with
/// `--all --preserve-digests` identical to the source layout blob for blob.
#[test]
fn skopeo_copies_a_multi_platform_oci_index_both_ways() {
    let server = Server::start();
    let tmp = tempdir();
    let src = two_platform_layout(tmp.path().join("src"));
    let (index_digest, index) = src.manifest("multi");

    let image = format!("docker://{}/team/multi:1.0", server.host());
    skopeo(&[
        "copy",
        "--all",
        "--dest-tls-verify=false",
        "--preserve-digests",
        &src.reference("multi"),
        &image,
    ]);

    let raw = skopeo(&["inspect", "--raw", "--tls-verify=false", &image]);
    assert_bytes_eq(raw.as_bytes(), &index, "index");
    let r = http(
        "HEAD",
        server.addr,
        "/v2/team/multi/manifests/1.0",
        &[],
        b"",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some(OCI_INDEX));
    assert_eq!(
        r.header("docker-content-digest"),
        Some(index_digest.as_str())
    );
    for child in json_of_bytes(&index)["manifests"].as_array().unwrap() {
        let d = child["digest"].as_str().unwrap();
        let r = http(
            "GET",
            server.addr,
            &format!("/v2/team/multi/manifests/{d}"),
            &[],
            b"",
        );
        assert_eq!(r.status, 200, "{d}");
        assert_eq!(r.header("content-type"), Some(OCI_MANIFEST));
        assert_bytes_eq(&r.body, &src.blob(d), d);
    }
    // skopeo picks the platform it is asked for out of the index.
    let arm = json_of(&skopeo(&[
        "--override-arch",
        "arm64",
        "inspect",
        "--tls-verify=false",
        &image,
    ]));
    assert_eq!(arm["Architecture"], "arm64");

    let back = Layout::at(tmp.path().join("back"));
    skopeo(&[
        "copy",
        "--all",
        "--src-tls-verify=false",
        "--preserve-digests",
        &image,
        &back.reference("1.0"),
    ]);
    assert_eq!(back.manifest("1.0").0, index_digest);
    assert_same_blobs(&src, &back);
}

/// Docker schema 2: skopeo converts an OCI image to a Docker v2 manifest (`--format v2s2`) and
/// an OCI index to a Docker manifest list. Spec points: Docker schema 2 manifest and manifest
/// list PUT and GET with their media types, cross-repository blob mount (`?mount=&from=`, 201)
/// in a vouch-to-vouch copy that keeps every digest (`--preserve-digests`), and the manifest
/// bytes unchanged after a copy to a `dir:` directory.
#[test]
fn docker_schema2_image_and_list_copy_vouch_to_vouch_keeping_digests() {
    let server = Server::start();
    let tmp = tempdir();
    let src = Layout::create(tmp.path().join("src"));
    src.image(
        "v1",
        "amd64",
        &[
            ("a.txt", b"docker schema 2\n".to_vec()),
            ("b.bin", random_bytes(1 << 20)),
        ],
    );
    src.gc();
    let host = server.host();

    let pushed = format!("docker://{host}/d2/src:v1");
    skopeo(&[
        "copy",
        "--format",
        "v2s2",
        "--dest-tls-verify=false",
        &src.reference("v1"),
        &pushed,
    ]);
    let raw = skopeo(&["inspect", "--raw", "--tls-verify=false", &pushed]);
    let manifest = json_of(&raw);
    assert_eq!(manifest["mediaType"], DOCKER_MANIFEST);
    let digest = sha256(raw.as_bytes());
    let r = http("GET", server.addr, "/v2/d2/src/manifests/v1", &[], b"");
    assert_eq!(r.header("content-type"), Some(DOCKER_MANIFEST));
    assert_eq!(r.header("docker-content-digest"), Some(digest.as_str()));

    let copied = format!("docker://{host}/d2/dst:v1");
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--preserve-digests",
        &pushed,
        &copied,
    ]);
    let raw_copy = skopeo(&["inspect", "--raw", "--tls-verify=false", &copied]);
    assert_bytes_eq(raw_copy.as_bytes(), raw.as_bytes(), "copied manifest");
    let inspect = json_of(&skopeo(&["inspect", "--tls-verify=false", &copied]));
    assert_eq!(inspect["Digest"], digest.as_str());
    // skopeo remembers where the layers live on this registry and mounts them instead of
    // uploading them again: a POST to the upload endpoint answered 201.
    let mounts = requests(&server, "POST", "/v2/d2/dst/blobs/uploads/", 201, 1);
    assert!(mounts >= 1, "no cross-repository mount:\n{}", server.log());

    let dir = tmp.path().join("dir");
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &copied,
        &format!("dir:{}", dir.display()),
    ]);
    let saved = std::fs::read(dir.join("manifest.json")).unwrap();
    assert_bytes_eq(&saved, raw.as_bytes(), "manifest in dir:");

    // The same for a manifest list.
    let multi = two_platform_layout(tmp.path().join("multi"));
    let list = format!("docker://{host}/d2/list:v1");
    skopeo(&[
        "copy",
        "--all",
        "--format",
        "v2s2",
        "--dest-tls-verify=false",
        &multi.reference("multi"),
        &list,
    ]);
    let raw_list = skopeo(&["inspect", "--raw", "--tls-verify=false", &list]);
    let parsed = json_of(&raw_list);
    assert_eq!(parsed["mediaType"], DOCKER_LIST);
    for m in parsed["manifests"].as_array().unwrap() {
        assert_eq!(m["mediaType"], DOCKER_MANIFEST);
    }
    let r = http("HEAD", server.addr, "/v2/d2/list/manifests/v1", &[], b"");
    assert_eq!(r.header("content-type"), Some(DOCKER_LIST));
    let list_copy = format!("docker://{host}/d2/list-copy:v1");
    skopeo(&[
        "copy",
        "--all",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--preserve-digests",
        &list,
        &list_copy,
    ]);
    let raw_list_copy = skopeo(&["inspect", "--raw", "--tls-verify=false", &list_copy]);
    assert_bytes_eq(raw_list_copy.as_bytes(), raw_list.as_bytes(), "copied list");
    for m in parsed["manifests"].as_array().unwrap() {
        let d = m["digest"].as_str().unwrap();
        let r = http(
            "GET",
            server.addr,
            &format!("/v2/d2/list-copy/manifests/{d}"),
            &[],
            b"",
        );
        assert_eq!(r.status, 200, "{d}");
        assert_eq!(sha256(&r.body), d);
    }
}

// ---------------------------------------------------------------------------------------------
// podman and buildah

/// podman, in a store of its own (vfs): it pulls what skopeo pushed, takes an image from an OCI
/// layout, pushes it and pulls it into a fresh store. Spec points: manifest GET by tag and by
/// digest, config and layer blob GET, blob HEAD
/// probes, uploads (or mounts) and manifest PUT by tag from podman. The digest podman reports
/// for its push is the digest of the bytes vouch serves, and each pull reports it back.
#[test]
fn podman_pushes_and_pulls() {
    let server = Server::start();
    let tmp = tempdir();
    let host = server.host();
    let src = Layout::create(tmp.path().join("layout"));
    src.image(
        "v1",
        "amd64",
        &[
            ("motd", b"built offline by umoci\n".to_vec()),
            ("data.bin", random_bytes(2 << 20)),
        ],
    );
    src.gc();
    let (digest, manifest) = src.manifest("v1");
    let config = json_of_bytes(&manifest)["config"]["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        "--preserve-digests",
        &src.reference("v1"),
        &format!("docker://{host}/pod/base:v1"),
    ]);

    // Pull what skopeo pushed.
    let first = Store::new();
    let base = format!("{host}/pod/base:v1");
    run(first
        .podman()
        .args(["pull", "-q", "--tls-verify=false", &base]));
    let (pulled_digest, id) = first.podman_image(&base);
    assert_eq!(pulled_digest, digest);
    assert_eq!(format!("sha256:{id}"), config);

    // Take the image from the layout (podman names it after the layout's path, which must be
    // lowercase: hence the relative path), then push it under a new name.
    let local = run(first
        .podman()
        .current_dir(tmp.path())
        .args(["pull", "-q", "oci:layout:v1"]));
    assert_eq!(format!("sha256:{}", local.trim()), config);
    let digest_file = tmp.path().join("pushed.digest");
    let app = format!("{host}/pod/app:v2");
    run(first
        .podman()
        .args(["push", "--tls-verify=false", "--digestfile"])
        .arg(&digest_file)
        .args([local.trim(), &app]));
    let pushed = std::fs::read_to_string(&digest_file).unwrap();
    let r = http("GET", server.addr, "/v2/pod/app/manifests/v2", &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(sha256(&r.body), pushed.trim());
    assert_eq!(r.header("docker-content-digest"), Some(pushed.trim()));
    assert_eq!(json_of_bytes(&r.body)["config"]["digest"], config.as_str());

    // A fresh store pulls it by tag and by digest.
    let second = Store::new();
    run(second
        .podman()
        .args(["pull", "-q", "--tls-verify=false", &app]));
    let (again, id) = second.podman_image(&app);
    assert_eq!(again, pushed.trim());
    assert_eq!(format!("sha256:{id}"), config);
    let by_digest = format!("{host}/pod/app@{}", pushed.trim());
    let out = run(second
        .podman()
        .args(["pull", "-q", "--tls-verify=false", &by_digest]));
    assert_eq!(format!("sha256:{}", out.trim()), config);
}

/// buildah: `from scratch`, `copy` of two files, `config`, `commit --format oci`, `push` to
/// vouch; then a pull into a fresh buildah store, a skopeo copy to an OCI layout, and umoci
/// unpacking the files. Spec points: blob HEAD probes, upload sessions (POST, streamed PATCH,
/// PUT `?digest=`), OCI manifest PUT by tag, manifest and blob GET. The pushed digest equals
/// the digest of the bytes vouch serves and the files come back byte for byte.
#[test]
fn buildah_scratch_image_pushes_and_pulls_back() {
    let server = Server::start();
    let tmp = tempdir();
    let host = server.host();
    let hello = b"hello from buildah\n".to_vec();
    let blob = random_bytes(3 << 20);
    let files = [
        write_temp(&tmp, "hello.txt", &hello),
        write_temp(&tmp, "blob.bin", &blob),
    ];
    let store = Store::new();
    store.buildah_scratch("scratch-app:1", "amd64", &files);
    let digest_file = tmp.path().join("pushed.digest");
    let image = format!("{host}/bb/app:1");
    run(store
        .buildah()
        .args(["push", "--tls-verify=false", "--digestfile"])
        .arg(&digest_file)
        .args(["scratch-app:1", &format!("docker://{image}")]));
    let pushed = std::fs::read_to_string(&digest_file).unwrap();
    let pushed = pushed.trim();

    let r = http("GET", server.addr, "/v2/bb/app/manifests/1", &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(sha256(&r.body), pushed);
    assert_eq!(r.header("content-type"), Some(OCI_MANIFEST));
    let manifest = json_of_bytes(&r.body);
    let config = &manifest["config"];
    assert_eq!(
        config["mediaType"],
        "application/vnd.oci.image.config.v1+json"
    );
    let config_digest = config["digest"].as_str().unwrap();
    let path = format!("/v2/bb/app/blobs/{config_digest}");
    let r = http("GET", server.addr, &path, &[], b"");
    assert_eq!(sha256(&r.body), config_digest);
    let labels = &json_of_bytes(&r.body)["config"]["Labels"];
    assert_eq!(labels["org.example.built-by"], "vouch-tests");

    let fresh = Store::new();
    run(fresh
        .buildah()
        .args(["pull", "-q", "--tls-verify=false", &image]));
    let format = ["--type", "image", "--format", "{{.FromImageDigest}}"];
    let inspect = run(fresh.buildah().arg("inspect").args(format).arg(&image));
    assert_eq!(inspect.trim(), pushed);

    let back = Layout::at(tmp.path().join("back"));
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        "--preserve-digests",
        &format!("docker://{image}"),
        &back.reference("1"),
    ]);
    assert_eq!(back.manifest("1").0, pushed);
    let bundle = tmp.path().join("bundle");
    run(Command::new(tool("umoci"))
        .args(["unpack", "--rootless", "--image", &back.image_ref("1")])
        .arg(&bundle));
    for (name, bytes) in [("hello.txt", &hello), ("blob.bin", &blob)] {
        let unpacked = std::fs::read(bundle.join("rootfs").join(name)).unwrap();
        assert_bytes_eq(&unpacked, bytes, name);
    }
}

/// buildah `manifest create`, `manifest add` of an amd64 and an arm64 scratch image, and
/// `manifest push --all`. Spec points: image manifests PUT by digest before the list that
/// references them, the list PUT by tag and served with its media type, every child GET by
/// digest. The list's digest buildah reports is the digest of the bytes vouch serves, and each
/// child hashes to the digest and size the list gives.
#[test]
fn buildah_manifest_list_push_all() {
    let server = Server::start();
    let tmp = tempdir();
    let store = Store::new();
    for arch in ["amd64", "arm64"] {
        let file = write_temp(&tmp, &format!("{arch}.txt"), arch.as_bytes());
        store.buildah_scratch(&format!("app:{arch}"), arch, &[file]);
    }
    run(store.buildah().args(["manifest", "create", "app-list"]));
    for arch in ["amd64", "arm64"] {
        run(store.buildah().args([
            "manifest",
            "add",
            "--arch",
            arch,
            "app-list",
            &format!("app:{arch}"),
        ]));
    }
    let digest_file = tmp.path().join("list.digest");
    run(store
        .buildah()
        .args([
            "manifest",
            "push",
            "--all",
            "--tls-verify=false",
            "--digestfile",
        ])
        .arg(&digest_file)
        .args(["app-list", &format!("docker://{}/bb/list:1", server.host())]));
    let list_digest = std::fs::read_to_string(&digest_file).unwrap();

    let r = http("GET", server.addr, "/v2/bb/list/manifests/1", &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(sha256(&r.body), list_digest.trim());
    let list = json_of_bytes(&r.body);
    let media_type = list["mediaType"].as_str().unwrap();
    assert!([OCI_INDEX, DOCKER_LIST].contains(&media_type), "{list}");
    assert_eq!(r.header("content-type"), Some(media_type));
    let mut arches = Vec::new();
    for child in list["manifests"].as_array().unwrap() {
        let d = child["digest"].as_str().unwrap();
        let r = http(
            "GET",
            server.addr,
            &format!("/v2/bb/list/manifests/{d}"),
            &[],
            b"",
        );
        assert_eq!(r.status, 200, "{d}");
        assert_eq!(sha256(&r.body), d);
        assert_eq!(r.body.len() as u64, child["size"].as_u64().unwrap());
        let arch = &child["platform"]["architecture"];
        assert_eq!(json_of_bytes(&r.body)["mediaType"], child["mediaType"]);
        arches.push(arch.as_str().unwrap().to_owned());
    }
    arches.sort();
    assert_eq!(arches, ["amd64", "arm64"]);
}

// ---------------------------------------------------------------------------------------------
// oras

/// oras-py pushes artifacts whose `subject` is an image skopeo pushed: one with monolithic
/// uploads and manifest annotations, one with chunked PATCH uploads (64 KiB chunks with
/// `Content-Range`), each with its own config media type (its artifact type); and one whose
/// subject is not in the registry yet. Spec points: manifest PUT with `subject` answered with
/// `OCI-Subject` (also for an absent subject), the referrers API
/// (`GET /v2/<name>/referrers/<digest>`) with digest, size, artifactType and annotations of each
/// referrer, the `artifactType` filter with `OCI-Filters-Applied`, an empty list for a digest
/// nothing refers to, a referrer gone after its manifest DELETE, and oras pulling the files
/// back byte for byte. The manifest bytes served are exactly the bytes oras sent.
#[test]
fn oras_artifacts_with_subject_and_referrers_api() {
    let server = Server::start();
    let tmp = tempdir();
    let host = server.host();
    let subject = push_small_image(&server, &tmp, "art/app:v1");
    let oras = Oras::new(&host, None);

    let sbom = br#"{"spdxVersion":"SPDX-2.3","name":"app"}"#.to_vec();
    let sbom_file = write_temp(&tmp, "sbom.spdx.json", &sbom);
    let annotations = json!({ "org.example.kind": "sbom", "org.example.run": "42" });
    let sbom_push = oras.push(&Artifact {
        annotations: annotations.clone(),
        ..Artifact::new(
            &format!("{host}/art/app:sbom"),
            &sbom_file,
            "application/vnd.example.sbom.v1",
            &subject,
        )
    });
    let sig = random_bytes(300 * 1024);
    let sig_file = write_temp(&tmp, "sig.bin", &sig);
    let uploads = "/v2/art/app/blobs/uploads/";
    let patches_before = requests(&server, "PATCH", uploads, 202, 0);
    let sig_push = oras.push(&Artifact {
        chunked: true,
        ..Artifact::new(
            &format!("{host}/art/app:sig"),
            &sig_file,
            "application/vnd.example.sig.v1",
            &subject,
        )
    });
    // oras sent the signature's 300 KiB layer in 64 KiB PATCHes.
    let patches = requests(&server, "PATCH", uploads, 202, patches_before + 5) - patches_before;
    assert!(patches >= 5, "{patches} PATCH requests:\n{}", server.log());
    for push in [&sbom_push, &sig_push] {
        assert_eq!(
            push.subject_header.as_deref(),
            Some(subject.digest.as_str())
        );
        assert_eq!(push.digest, sha256(&push.manifest));
        let path = format!("/v2/art/app/manifests/{}", push.digest);
        let r = http("GET", server.addr, &path, &[], b"");
        assert_eq!(r.status, 200);
        assert_bytes_eq(&r.body, &push.manifest, "artifact manifest");
    }

    let referrers = format!("/v2/art/app/referrers/{}", subject.digest);
    let r = http("GET", server.addr, &referrers, &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some(OCI_INDEX));
    assert_eq!(r.header("oci-filters-applied"), None);
    let index = r.json();
    assert_eq!(index["mediaType"], OCI_INDEX);
    assert_eq!(index["schemaVersion"], 2);
    let listed = |index: &Value| -> BTreeMap<String, Value> {
        index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| (d["digest"].as_str().unwrap().to_owned(), d.clone()))
            .collect()
    };
    let all = listed(&index);
    assert_eq!(all.len(), 2, "{index}");
    for (push, artifact_type) in [
        (&sbom_push, "application/vnd.example.sbom.v1"),
        (&sig_push, "application/vnd.example.sig.v1"),
    ] {
        let d = &all[&push.digest];
        assert_eq!(d["mediaType"], OCI_MANIFEST);
        assert_eq!(d["artifactType"], artifact_type);
        assert_eq!(d["size"], push.manifest.len());
    }
    assert_eq!(all[&sbom_push.digest]["annotations"], annotations);

    let filtered = http(
        "GET",
        server.addr,
        &format!("{referrers}?artifactType=application/vnd.example.sig.v1"),
        &[],
        b"",
    );
    assert_eq!(filtered.status, 200);
    assert_eq!(filtered.header("oci-filters-applied"), Some("artifactType"));
    let only = listed(&filtered.json());
    assert_eq!(only.keys().collect::<Vec<_>>(), [&sig_push.digest]);
    let none = http(
        "GET",
        server.addr,
        &format!("{referrers}?artifactType=application/x-nothing"),
        &[],
        b"",
    );
    assert_eq!(none.json()["manifests"], json!([]));
    let nothing = format!("/v2/art/app/referrers/sha256:{}", "0".repeat(64));
    let r = http("GET", server.addr, &nothing, &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["manifests"], json!([]));

    let out = oras.pull(
        &format!("{host}/art/app@{}", sbom_push.digest),
        &tmp.path().join("pulled-sbom"),
    );
    assert_eq!(out.len(), 1);
    assert_bytes_eq(&std::fs::read(&out[0]).unwrap(), &sbom, "sbom");
    let out = oras.pull(
        &format!("{host}/art/app:sig"),
        &tmp.path().join("pulled-sig"),
    );
    assert_eq!(out.len(), 1);
    assert_bytes_eq(&std::fs::read(&out[0]).unwrap(), &sig, "signature");

    // Deleting a referrer's manifest takes it out of the listing.
    skopeo(&[
        "delete",
        "--tls-verify=false",
        &format!("docker://{host}/art/app@{}", sbom_push.digest),
    ]);
    let r = http("GET", server.addr, &referrers, &[], b"");
    assert_eq!(
        listed(&r.json()).keys().collect::<Vec<_>>(),
        [&sig_push.digest]
    );

    // A subject that is not in the registry yet: accepted, listed, and still listed once the
    // subject arrives.
    let later = Layout::create(tmp.path().join("later"));
    later.image(
        "v1",
        "amd64",
        &[("later.txt", b"pushed after its referrer\n".to_vec())],
    );
    later.gc();
    let (later_digest, later_manifest) = later.manifest("v1");
    let later_subject = Subject {
        media_type: OCI_MANIFEST.to_owned(),
        digest: later_digest.clone(),
        size: later_manifest.len(),
    };
    let early = oras.push(&Artifact::new(
        &format!("{host}/art/app:early"),
        &sbom_file,
        "application/vnd.example.sbom.v1",
        &later_subject,
    ));
    assert_eq!(early.subject_header.as_deref(), Some(later_digest.as_str()));
    let later_referrers = format!("/v2/art/app/referrers/{later_digest}");
    let r = http("GET", server.addr, &later_referrers, &[], b"");
    assert_eq!(
        listed(&r.json()).keys().collect::<Vec<_>>(),
        [&early.digest]
    );
    skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        "--preserve-digests",
        &later.reference("v1"),
        &format!("docker://{host}/art/app:later"),
    ]);
    let r = http("GET", server.addr, &later_referrers, &[], b"");
    assert_eq!(
        listed(&r.json()).keys().collect::<Vec<_>>(),
        [&early.digest]
    );
}

// ---------------------------------------------------------------------------------------------
// authentication

/// skopeo against a registry with users. Spec points: 401 with a Basic challenge for anonymous
/// callers (UNAUTHORIZED), HTTP basic auth on every endpoint a push and a pull use
/// (`--dest-creds`, `--src-creds`, `--creds`), a wrong password refused, a pull-only user's
/// push and delete refused with 403 DENIED, manifest DELETE by a user with the delete role.
#[test]
fn skopeo_with_credentials_and_roles() {
    let tmp = tempdir();
    let server = auth_server(&tmp);
    let host = server.host();
    let src = Layout::create(tmp.path().join("src"));
    src.image("v1", "amd64", &[("f", b"secret layer\n".to_vec())]);
    src.gc();
    let (digest, manifest) = src.manifest("v1");
    let image = format!("docker://{host}/team/app:v1");
    let push = |creds: Option<&str>| {
        let mut cmd = Command::new(tool("skopeo"));
        cmd.args(["copy", "--dest-tls-verify=false", "--preserve-digests"]);
        if let Some(c) = creds {
            cmd.args(["--dest-creds", c]);
        }
        cmd.args([src.reference("v1").as_str(), image.as_str()]);
        cmd
    };

    let err = fails(&mut push(None));
    assert!(err.contains("unauthorized"), "{err}");
    let err = fails(&mut push(Some("ci:wrong-password")));
    assert!(err.contains("unauthorized"), "{err}");
    let err = fails(&mut push(Some("reader:reader-pass")));
    assert!(err.contains("denied"), "{err}");
    run(&mut push(Some("ci:ci-pass")));

    let err = fails(Command::new(tool("skopeo")).args([
        "inspect",
        "--raw",
        "--tls-verify=false",
        &image,
    ]));
    assert!(err.contains("unauthorized"), "{err}");
    let raw = skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        "--creds",
        "reader:reader-pass",
        &image,
    ]);
    assert_bytes_eq(raw.as_bytes(), &manifest, "manifest");
    let back = Layout::at(tmp.path().join("back"));
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        "--src-creds",
        "reader:reader-pass",
        "--preserve-digests",
        &image,
        &back.reference("v1"),
    ]);
    assert_eq!(back.manifest("v1").0, digest);
    assert_same_blobs(&src, &back);

    let err = fails(Command::new(tool("skopeo")).args([
        "delete",
        "--tls-verify=false",
        "--creds",
        "reader:reader-pass",
        &image,
    ]));
    assert!(err.contains("DENIED") || err.contains("403"), "{err}");
    skopeo(&[
        "delete",
        "--tls-verify=false",
        "--creds",
        "ci:ci-pass",
        &image,
    ]);
    let err = fails(Command::new(tool("skopeo")).args([
        "inspect",
        "--tls-verify=false",
        "--creds",
        "reader:reader-pass",
        &image,
    ]));
    assert!(err.contains("manifest unknown"), "{err}");
}

/// podman with `--creds` and `login` against a registry with users. Spec points: basic auth
/// after a 401 challenge on push (HEAD probes, uploads, manifest PUT) and pull, the `/v2/`
/// check `podman login` makes, a wrong password refused there and on push, a pull-only user's
/// push refused with 403 DENIED, `_catalog` through `podman search` showing each caller the
/// repositories it may pull (anonymous callers only `public/**`), tags list through
/// `podman search --list-tags`; digests equal on both sides.
#[test]
fn podman_with_credentials_and_roles() {
    let tmp = tempdir();
    let server = auth_server(&tmp);
    let host = server.host();
    let src = Layout::create(tmp.path().join("layout"));
    src.image(
        "v1",
        "amd64",
        &[("f", b"podman with credentials\n".to_vec())],
    );
    src.gc();
    let store = Store::new();
    let local = run(store
        .podman()
        .current_dir(tmp.path())
        .args(["pull", "-q", "oci:layout:v1"]));
    let image = format!("{host}/team/pod:v1");
    let digest_file = tmp.path().join("pushed.digest");
    let push = |creds: &str, to: &str| {
        let mut cmd = store.podman();
        cmd.args([
            "push",
            "--tls-verify=false",
            "--creds",
            creds,
            "--digestfile",
        ])
        .arg(&digest_file)
        .args([local.trim(), to]);
        cmd
    };
    let err = fails(&mut push("ci:wrong-password", &image));
    assert!(err.contains("unauthorized"), "{err}");
    let err = fails(&mut push("reader:reader-pass", &image));
    assert!(err.contains("denied"), "{err}");
    run(&mut push("ci:ci-pass", &format!("{host}/public/pod:v1")));
    run(&mut push("ci:ci-pass", &image));
    let pushed = std::fs::read_to_string(&digest_file).unwrap();

    let fresh = Store::new();
    let err = fails(
        fresh
            .podman()
            .args(["pull", "-q", "--tls-verify=false", &image]),
    );
    assert!(err.contains("unauthorized"), "{err}");
    run(fresh.podman().args([
        "pull",
        "-q",
        "--tls-verify=false",
        "--creds",
        "reader:reader-pass",
        &image,
    ]));
    assert_eq!(fresh.podman_image(&image).0, pushed.trim());

    // `podman login` checks `/v2/`; `podman search` lists the catalog with the saved login.
    let authfile = tmp.path().join("auth.json");
    let login = |user: &str, pass: &str| {
        let mut cmd = fresh.podman();
        cmd.args(["login", "--tls-verify=false", "--authfile"])
            .arg(&authfile)
            .args(["-u", user, "-p", pass, &host]);
        cmd
    };
    let err = fails(&mut login("reader", "wrong-password"));
    assert!(err.contains("invalid username/password"), "{err}");
    run(&mut login("reader", "reader-pass"));
    let search = |authfile: Option<&Path>, term: &str| {
        let mut cmd = fresh.podman();
        cmd.args([
            "search",
            "--tls-verify=false",
            "--format",
            "{{.Name}} {{.Tag}}",
        ]);
        if let Some(f) = authfile {
            cmd.arg("--authfile").arg(f);
        }
        let out = run(cmd.arg(term));
        let mut lines: Vec<String> = out.lines().map(|l| l.trim().to_owned()).collect();
        lines.sort();
        lines
    };
    let everything = format!("{host}/");
    assert_eq!(
        search(Some(&authfile), &everything),
        [format!("{host}/public/pod"), format!("{host}/team/pod")]
    );
    let nobody = tmp.path().join("no-auth.json");
    write_file(&nobody, r#"{"auths":{}}"#);
    assert_eq!(
        search(Some(&nobody), &everything),
        [format!("{host}/public/pod")]
    );
    let tags = run(fresh
        .podman()
        .args(["search", "--tls-verify=false", "--list-tags", "--authfile"])
        .arg(&authfile)
        .arg(format!("{host}/team/pod")));
    assert!(
        tags.lines().any(|l| l
            .split_whitespace()
            .eq([format!("{host}/team/pod").as_str(), "v1"])),
        "{tags}"
    );
}

/// Regression: skopeo and podman answer the Basic challenge of `/v2/` with an empty user and
/// password when they have no credentials, and vouch refused that as a failed login, so an
/// anonymous `pull` grant (`public/**`) was unusable by them. Spec points: anonymous pull
/// (manifest and blob GET) under an anonymous grant, and 401 UNAUTHORIZED for anonymous
/// pushes and for repositories outside the grant.
#[test]
fn empty_basic_credentials_from_skopeo_and_podman_are_anonymous() {
    let tmp = tempdir();
    let server = auth_server(&tmp);
    let host = server.host();
    let src = Layout::create(tmp.path().join("src"));
    src.image("v1", "amd64", &[("f", b"public layer\n".to_vec())]);
    src.gc();
    let (digest, manifest) = src.manifest("v1");
    for repo in ["public/app", "team/app"] {
        skopeo(&[
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            "ci:ci-pass",
            "--preserve-digests",
            &src.reference("v1"),
            &format!("docker://{host}/{repo}:v1"),
        ]);
    }
    // What skopeo and podman send: `Authorization: Basic base64(":")`.
    let empty = format!("Basic {}", base64(b":"));
    let r = http(
        "GET",
        server.addr,
        "/v2/public/app/manifests/v1",
        &[("Authorization", &empty)],
        b"",
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let r = http(
        "GET",
        server.addr,
        "/v2/team/app/manifests/v1",
        &[("Authorization", &empty)],
        b"",
    );
    assert_error(&r, 401, "UNAUTHORIZED");

    let public = format!("docker://{host}/public/app:v1");
    let raw = skopeo(&["inspect", "--raw", "--tls-verify=false", &public]);
    assert_bytes_eq(raw.as_bytes(), &manifest, "anonymous skopeo inspect");
    let back = Layout::at(tmp.path().join("back"));
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        "--preserve-digests",
        &public,
        &back.reference("v1"),
    ]);
    assert_same_blobs(&src, &back);
    let err = fails(Command::new(tool("skopeo")).args([
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{host}/team/app:v1"),
    ]));
    assert!(err.contains("unauthorized"), "{err}");
    let err = fails(Command::new(tool("skopeo")).args([
        "copy",
        "--dest-tls-verify=false",
        &src.reference("v1"),
        &format!("docker://{host}/public/app:v2"),
    ]));
    assert!(err.contains("unauthorized"), "{err}");

    let store = Store::new();
    let image = format!("{host}/public/app:v1");
    run(store
        .podman()
        .args(["pull", "-q", "--tls-verify=false", &image]));
    assert_eq!(store.podman_image(&image).0, digest);
}

/// oras-py with basic auth against a registry with users. Spec points: 401 challenge then
/// basic auth on blob HEAD, upload POST/PUT and manifest PUT with a `subject`; referrers API
/// behind auth; a wrong password and a pull-only user's push both refused.
#[test]
fn oras_with_basic_auth() {
    let tmp = tempdir();
    let server = auth_server(&tmp);
    let host = server.host();
    let subject = {
        let src = Layout::create(tmp.path().join("src"));
        src.image(
            "v1",
            "amd64",
            &[("f", b"subject of an artifact\n".to_vec())],
        );
        src.gc();
        skopeo(&[
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            "ci:ci-pass",
            "--preserve-digests",
            &src.reference("v1"),
            &format!("docker://{host}/team/app:v1"),
        ]);
        let (digest, manifest) = src.manifest("v1");
        Subject {
            media_type: OCI_MANIFEST.to_owned(),
            digest,
            size: manifest.len(),
        }
    };
    let file = write_temp(&tmp, "notes.txt", b"release notes\n");
    let target = format!("{host}/team/app:notes");
    let notes = Artifact::new(&target, &file, "application/vnd.example.notes", &subject);
    let err = fails(&mut Oras::new(&host, Some(("ci", "wrong-password"))).push_command(&notes));
    assert!(err.contains("UNAUTHORIZED"), "{err}");
    let err = fails(&mut Oras::new(&host, Some(("reader", "reader-pass"))).push_command(&notes));
    assert!(err.contains("DENIED"), "{err}");
    let pushed = Oras::new(&host, Some(("ci", "ci-pass"))).push(&notes);
    assert_eq!(
        pushed.subject_header.as_deref(),
        Some(subject.digest.as_str())
    );

    let basic = format!("Basic {}", base64(b"reader:reader-pass"));
    let referrers = format!("/v2/team/app/referrers/{}", subject.digest);
    assert_eq!(http("GET", server.addr, &referrers, &[], b"").status, 401);
    let r = http(
        "GET",
        server.addr,
        &referrers,
        &[("Authorization", &basic)],
        b"",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["manifests"][0]["digest"], pushed.digest.as_str());
    let out =
        Oras::new(&host, Some(("reader", "reader-pass"))).pull(&target, &tmp.path().join("pulled"));
    assert_bytes_eq(
        &std::fs::read(&out[0]).unwrap(),
        b"release notes\n",
        "notes",
    );
}

// ---------------------------------------------------------------------------------------------
// curl

/// curl on what skopeo pushed. Spec points: HEAD of a manifest (Content-Type, Content-Length,
/// Docker-Content-Digest, no body) and of a blob, HEAD of an unknown blob (404), blob GET
/// with `Range` (`A-B`, `A-`, `-N`: 206 with Content-Range) and an unsatisfiable range (416 with
/// `Content-Range: bytes */size`), and `Docker-Distribution-API-Version` on every response.
#[test]
fn curl_head_and_range_requests() {
    let server = Server::start();
    let tmp = tempdir();
    let subject = push_small_image(&server, &tmp, "edge/app:v1");
    let base = server.url("/v2/edge/app");

    let r = curl(&tmp, &["-I", &format!("{base}/manifests/v1")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some(OCI_MANIFEST));
    assert_eq!(
        r.header("content-length"),
        Some(subject.size.to_string().as_str())
    );
    assert_eq!(
        r.header("docker-content-digest"),
        Some(subject.digest.as_str())
    );
    assert_eq!(
        r.header("docker-distribution-api-version"),
        Some("registry/2.0")
    );

    let manifest = curl(&tmp, &[&format!("{base}/manifests/{}", subject.digest)]);
    assert_eq!(sha256(&manifest.body), subject.digest);
    let layer = json_of_bytes(&manifest.body)["layers"][0].clone();
    let layer_digest = layer["digest"].as_str().unwrap();
    let size = layer["size"].as_u64().unwrap();
    let blob_url = format!("{base}/blobs/{layer_digest}");

    let r = curl(&tmp, &["-I", &blob_url]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some(size.to_string().as_str()));
    assert_eq!(r.header("docker-content-digest"), Some(layer_digest));
    let r = curl(
        &tmp,
        &["-I", &format!("{base}/blobs/sha256:{}", "1".repeat(64))],
    );
    assert_eq!(r.status, 404);

    let full = curl(&tmp, &[&blob_url]);
    assert_eq!(full.status, 200);
    assert_eq!(full.body.len() as u64, size);
    assert_eq!(sha256(&full.body), layer_digest);
    let cases: [(String, usize, usize); 3] = [
        ("100-1123".to_owned(), 100, 1124),
        (format!("{}-", size - 50), size as usize - 50, size as usize),
        ("-10".to_owned(), size as usize - 10, size as usize),
    ];
    for (range, start, end) in cases {
        let r = curl(&tmp, &["-H", &format!("Range: bytes={range}"), &blob_url]);
        assert_eq!(r.status, 206, "{range}");
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes {start}-{}/{size}", end - 1).as_str()),
            "{range}"
        );
        assert_bytes_eq(&r.body, &full.body[start..end], &range);
    }
    let r = curl(&tmp, &["-H", &format!("Range: bytes={size}-"), &blob_url]);
    assert_eq!(r.status, 416);
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes */{size}").as_str())
    );
}

/// Uploads driven by curl. Spec points: single-request monolithic POST `?digest=` (sha256 and
/// sha512), POST then monolithic PUT, chunked PATCHes with `Content-Range` and a streamed PATCH
/// without Content-Length, upload status GET (204 with `Range`), 416 for an out-of-order chunk,
/// DIGEST_INVALID for content that does not match, cancel DELETE then BLOB_UPLOAD_UNKNOWN,
/// cross-repository mount (201) and its fallback to a session (202), and a manifest PUT that
/// references the uploaded blobs served back byte for byte.
#[test]
fn curl_monolithic_and_chunked_uploads() {
    let server = Server::start();
    let tmp = tempdir();
    let base = server.url("/v2/up/app");
    let uploads = format!("{base}/blobs/uploads/");

    // Single POST with the digest, sha256 and sha512.
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let config_digest = sha256(config);
    let config_file = write_temp(&tmp, "config.json", config);
    let r = send(
        &tmp,
        "POST",
        &format!("{uploads}?digest={config_digest}"),
        &config_file,
        OCTETS,
        &[],
    );
    assert_eq!(r.status, 201);
    assert_eq!(
        r.header("docker-content-digest"),
        Some(config_digest.as_str())
    );
    let location = format!("/v2/up/app/blobs/{config_digest}");
    assert_eq!(r.header("location"), Some(location.as_str()));
    let five12 = b"a blob addressed by sha512";
    let five12_digest = sha512(five12);
    let five12_file = write_temp(&tmp, "sha512.bin", five12);
    let r = send(
        &tmp,
        "POST",
        &format!("{uploads}?digest={five12_digest}"),
        &five12_file,
        OCTETS,
        &[],
    );
    assert_eq!(r.status, 201);
    let r = curl(&tmp, &[&format!("{base}/blobs/{five12_digest}")]);
    assert_eq!(r.body, five12);
    assert_eq!(
        r.header("docker-content-digest"),
        Some(five12_digest.as_str())
    );

    // POST, then the whole blob in the PUT.
    let small = random_bytes(70_000);
    let small_digest = sha256(&small);
    let small_file = write_temp(&tmp, "small.bin", &small);
    let url = server.url(&start_upload(&tmp, &base));
    let r = send(
        &tmp,
        "PUT",
        &format!("{url}?digest={small_digest}"),
        &small_file,
        OCTETS,
        &[],
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));

    // Chunked: a PATCH with Content-Range, a rejected out-of-order chunk, the next chunk, a
    // streamed PATCH (chunked transfer encoding, no Content-Length), the status, then the PUT.
    const MIB: usize = 1 << 20;
    let big = random_bytes(3 * MIB);
    let big_digest = sha256(&big);
    let part: Vec<PathBuf> = big
        .chunks(MIB)
        .enumerate()
        .map(|(i, p)| write_temp(&tmp, &format!("part{i}"), p))
        .collect();
    let url = server.url(&start_upload(&tmp, &base));
    let first = format!("Content-Range: 0-{}", MIB - 1);
    let r = send(&tmp, "PATCH", &url, &part[0], OCTETS, &[&first]);
    assert_eq!(r.status, 202);
    let after_first = format!("0-{}", MIB - 1);
    assert_eq!(r.header("range"), Some(after_first.as_str()));
    let url = server.url(r.header("location").unwrap());
    // Exactly the 100 bytes the range claims: the server answers 416 without reading a body,
    // and a larger one could still be in flight when it closes the connection.
    let stray = write_temp(&tmp, "stray", &big[..100]);
    let r = send(
        &tmp,
        "PATCH",
        &url,
        &stray,
        OCTETS,
        &["Content-Range: 0-99"],
    );
    assert_error(&r, 416, "BLOB_UPLOAD_INVALID");
    assert_eq!(r.header("range"), Some(after_first.as_str()));
    let second = format!("Content-Range: {MIB}-{}", 2 * MIB - 1);
    let r = send(&tmp, "PATCH", &url, &part[1], OCTETS, &[&second]);
    assert_eq!(r.status, 202);
    let url = server.url(r.header("location").unwrap());
    let tail = path_str(&part[2]);
    let streamed = [
        "-X",
        "PATCH",
        "-H",
        "Transfer-Encoding: chunked",
        "-T",
        &tail,
        &url,
    ];
    let r = curl(&tmp, &streamed);
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let status = curl(&tmp, &[&url]);
    assert_eq!(status.status, 204);
    let whole = format!("0-{}", big.len() - 1);
    assert_eq!(status.header("range"), Some(whole.as_str()));
    let r = curl(&tmp, &["-X", "PUT", &format!("{url}?digest={big_digest}")]);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let r = curl(&tmp, &[&format!("{base}/blobs/{big_digest}")]);
    assert_bytes_eq(&r.body, &big, "chunked blob");

    // Content that does not match its digest is refused.
    let url = server.url(&start_upload(&tmp, &base));
    let r = send(
        &tmp,
        "PUT",
        &format!("{url}?digest={config_digest}"),
        &small_file,
        OCTETS,
        &[],
    );
    assert_error(&r, 400, "DIGEST_INVALID");
    let r = curl(&tmp, &[&format!("{base}/blobs/{config_digest}")]);
    assert_bytes_eq(
        &r.body,
        config,
        "blob after a refused upload under its digest",
    );
    // Cancel.
    let url = server.url(&start_upload(&tmp, &base));
    assert_eq!(curl(&tmp, &["-X", "DELETE", &url]).status, 204);
    assert_error(&curl(&tmp, &[&url]), 404, "BLOB_UPLOAD_UNKNOWN");

    // Mount into another repository; a mount that cannot happen falls back to a session.
    let mount = format!("/v2/up/other/blobs/uploads/?mount={big_digest}&from=up/app");
    let r = curl(&tmp, &["-X", "POST", &server.url(&mount)]);
    assert_eq!(r.status, 201);
    assert_eq!(r.header("docker-content-digest"), Some(big_digest.as_str()));
    let mounted = server.url(&format!("/v2/up/other/blobs/{big_digest}"));
    assert_eq!(curl(&tmp, &["-I", &mounted]).status, 200);
    let absent = format!("sha256:{}", "2".repeat(64));
    let mount = format!("/v2/up/third/blobs/uploads/?mount={absent}&from=up/app");
    let r = curl(&tmp, &["-X", "POST", &server.url(&mount)]);
    assert_eq!(r.status, 202);
    let location = r.header("location").unwrap();
    assert!(
        location.starts_with("/v2/up/third/blobs/uploads/"),
        "{location}"
    );

    // A manifest over the uploaded blobs, served back byte for byte, and readable by skopeo.
    let layer = |digest: &str, size: usize| {
        let tar = "application/vnd.oci.image.layer.v1.tar";
        json!({ "mediaType": tar, "digest": digest, "size": size })
    };
    let manifest = serde_json::to_vec_pretty(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config.len(),
        },
        "layers": [layer(&small_digest, small.len()), layer(&big_digest, big.len())],
    }))
    .unwrap();
    let manifest_digest = sha256(&manifest);
    let manifest_file = write_temp(&tmp, "manifest.json", &manifest);
    let r = send(
        &tmp,
        "PUT",
        &format!("{base}/manifests/v1"),
        &manifest_file,
        OCI_MANIFEST,
        &[],
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        r.header("docker-content-digest"),
        Some(manifest_digest.as_str())
    );
    let r = curl(&tmp, &[&format!("{base}/manifests/v1")]);
    assert_bytes_eq(&r.body, &manifest, "manifest");
    let image = format!("docker://{}/up/app:v1", server.host());
    let raw = skopeo(&["inspect", "--raw", "--tls-verify=false", &image]);
    assert_bytes_eq(raw.as_bytes(), &manifest, "manifest read by skopeo");
}

/// Error bodies as curl sees them. Spec points: the JSON error body (`errors[].code`,
/// `message`, `detail`) with the right status for MANIFEST_UNKNOWN, NAME_UNKNOWN, BLOB_UNKNOWN,
/// NAME_INVALID, DIGEST_INVALID, TAG_INVALID, MANIFEST_INVALID, MANIFEST_BLOB_UNKNOWN and
/// UNSUPPORTED (405 with `Allow`).
#[test]
fn curl_error_bodies_are_spec_json() {
    let server = Server::start();
    let tmp = tempdir();
    push_small_image(&server, &tmp, "err/app:v1");
    let zero = format!("sha256:{}", "0".repeat(64));

    let r = curl(&tmp, &[&server.url("/v2/err/app/manifests/missing")]);
    assert_error(&r, 404, "MANIFEST_UNKNOWN");
    let r = curl(&tmp, &[&server.url("/v2/err/nothing/manifests/v1")]);
    assert_error(&r, 404, "NAME_UNKNOWN");
    let r = curl(&tmp, &[&server.url(&format!("/v2/err/app/blobs/{zero}"))]);
    assert_error(&r, 404, "BLOB_UNKNOWN");
    assert_eq!(r.json()["errors"][0]["detail"]["digest"], zero.as_str());
    let r = curl(&tmp, &[&server.url("/v2/Err/App/manifests/v1")]);
    assert_error(&r, 400, "NAME_INVALID");
    let r = curl(&tmp, &[&server.url("/v2/err/app/blobs/sha256:abc")]);
    assert_error(&r, 400, "DIGEST_INVALID");

    let bad_tag = format!("/v2/err/app/manifests/{}", "t".repeat(129));
    let ok_manifest = write_temp(&tmp, "m.json", b"{}");
    let put =
        |path: &str, file: &Path| send(&tmp, "PUT", &server.url(path), file, OCI_MANIFEST, &[]);
    assert_error(&put(&bad_tag, &ok_manifest), 400, "TAG_INVALID");
    let not_json = write_temp(&tmp, "bad.json", b"{not json");
    assert_error(
        &put("/v2/err/app/manifests/v2", &not_json),
        400,
        "MANIFEST_INVALID",
    );
    let config_type = "application/vnd.oci.image.config.v1+json";
    let config = json!({ "mediaType": config_type, "digest": zero, "size": 2 });
    let dangling = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config,
        "layers": [],
    });
    let dangling = write_temp(&tmp, "dangling.json", dangling.to_string().as_bytes());
    let r = put("/v2/err/app/manifests/v3", &dangling);
    assert_error(&r, 400, "MANIFEST_BLOB_UNKNOWN");

    let r = curl(
        &tmp,
        &["-X", "POST", &server.url("/v2/err/app/manifests/v1")],
    );
    assert_error(&r, 405, "UNSUPPORTED");
    assert!(r.header("allow").is_some());
}

// ---------------------------------------------------------------------------------------------
// Helpers

pub(crate) fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary directory")
}

fn sha256(bytes: &[u8]) -> String {
    format!(
        "sha256:{}",
        hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes).as_ref())
    )
}

fn sha512(bytes: &[u8]) -> String {
    format!(
        "sha512:{}",
        hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA512, bytes).as_ref())
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub(crate) fn random_bytes(n: usize) -> Vec<u8> {
    let mut bytes = vec![0; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("read /dev/urandom");
    bytes
}

fn json_of(text: &str) -> Value {
    json_of_bytes(text.as_bytes())
}

fn json_of_bytes(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}

/// Byte equality without printing megabytes on failure.
fn assert_bytes_eq(got: &[u8], want: &[u8], what: &str) {
    if got != want {
        let shown = |b: &[u8]| String::from_utf8_lossy(&b[..b.len().min(600)]).into_owned();
        panic!(
            "{what}: {} bytes ({}) differ from the expected {} bytes ({}):\n got: {}\nwant: {}",
            got.len(),
            sha256(got),
            want.len(),
            sha256(want),
            shown(got),
            shown(want)
        );
    }
}

/// A spec error body: the status, JSON content, and `code` as the first error's code.
fn assert_error(r: &Response, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("content-type"), Some("application/json"));
    let body = r.json();
    let first = &body["errors"][0];
    assert_eq!(first["code"], code, "{body}");
    assert!(first["message"].is_string(), "{body}");
}

/// Runs a command that must fail; returns its standard error and output.
pub(crate) fn fails(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        !out.status.success(),
        "{cmd:?} succeeded but should fail:\n{text}"
    );
    text
}

pub(crate) fn skopeo(args: &[&str]) -> String {
    run(Command::new(tool("skopeo")).args(args))
}

/// How many access-log lines show this method and status on paths starting with `path`,
/// waiting up to ten seconds for at least `at_least` (the log arrives through a pipe).
fn requests(server: &Server, method: &str, path: &str, status: u64, at_least: usize) -> usize {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let n = server
            .log()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| {
                let f = &v["fields"];
                f["message"] == "request"
                    && f["method"] == method
                    && f["status"] == status
                    && f["path"].as_str().is_some_and(|p| p.starts_with(path))
            })
            .count();
        if n >= at_least || std::time::Instant::now() > deadline {
            return n;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A server with two users: `ci` may push and delete under `team/**` and `public/**`,
/// `reader` may pull everything; anonymous callers may pull `public/**` and nothing else.
fn auth_server(tmp: &tempfile::TempDir) -> Server {
    let config = tmp.path().join("vouch.toml");
    write_file(
        &config,
        &format!(
            r#"
[auth]
anonymous = [{{ repos = "public/**", roles = ["pull"] }}]

[[auth.users]]
name = "ci"
password = "{}"
access = [{{ repos = ["team/**", "public/**"], roles = ["push", "delete"] }}]

[[auth.users]]
name = "reader"
password = "{}"
access = [{{ repos = "**", roles = ["pull"] }}]
"#,
            bcrypt_hash("ci-pass"),
            bcrypt_hash("reader-pass")
        ),
    );
    Server::start_with(ServerOptions {
        config: Some(config),
        ..ServerOptions::default()
    })
}

/// A descriptor of a pushed manifest, as a `subject` names it.
struct Subject {
    media_type: String,
    digest: String,
    size: usize,
}

/// Builds a one-layer image (64 KiB of random bytes) with umoci and pushes it with skopeo to
/// `repo_tag` (`name:tag`) on an open server.
fn push_small_image(server: &Server, tmp: &tempfile::TempDir, repo_tag: &str) -> Subject {
    let src = Layout::create(
        tmp.path()
            .join(format!("img-{}", repo_tag.replace(['/', ':'], "-"))),
    );
    src.image("v1", "amd64", &[("data.bin", random_bytes(64 * 1024))]);
    src.gc();
    skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        "--preserve-digests",
        &src.reference("v1"),
        &format!("docker://{}/{repo_tag}", server.host()),
    ]);
    let (digest, manifest) = src.manifest("v1");
    Subject {
        media_type: OCI_MANIFEST.to_owned(),
        digest,
        size: manifest.len(),
    }
}

/// An OCI image layout on disk, as umoci writes it and skopeo reads and writes it.
pub(crate) struct Layout {
    dir: PathBuf,
}

impl Layout {
    /// A new, empty layout made by `umoci init`.
    pub(crate) fn create(dir: PathBuf) -> Layout {
        run(Command::new(tool("umoci"))
            .args(["init", "--layout"])
            .arg(&dir));
        Layout { dir }
    }

    /// A layout a client will create.
    pub(crate) fn at(dir: PathBuf) -> Layout {
        Layout { dir }
    }

    pub(crate) fn reference(&self, tag: &str) -> String {
        format!("oci:{}:{tag}", self.dir.display())
    }

    pub(crate) fn image_ref(&self, tag: &str) -> String {
        format!("{}:{tag}", self.dir.display())
    }

    /// A new image `tag` for linux/`arch` with one layer per file (`umoci insert`).
    pub(crate) fn image(&self, tag: &str, arch: &str, files: &[(&str, Vec<u8>)]) {
        let umoci = tool("umoci");
        let image = self.image_ref(tag);
        run(Command::new(&umoci).args(["new", "--image", &image]));
        run(Command::new(&umoci).args([
            "config",
            "--image",
            &image,
            "--architecture",
            arch,
            "--os",
            "linux",
        ]));
        let scratch = self.dir.with_extension(format!("{tag}.files"));
        std::fs::create_dir_all(&scratch).unwrap();
        for (name, bytes) in files {
            let path = scratch.join(name);
            std::fs::write(&path, bytes).unwrap();
            run(Command::new(&umoci)
                .args(["insert", "--rootless", "--image", &image])
                .arg(&path)
                .arg(format!("/{name}")));
        }
    }

    /// Removes blobs no tag reaches (umoci keeps each intermediate manifest and config).
    pub(crate) fn gc(&self) {
        run(Command::new(tool("umoci"))
            .args(["gc", "--layout"])
            .arg(&self.dir));
    }

    pub(crate) fn index(&self) -> Value {
        json_of_bytes(&std::fs::read(self.dir.join("index.json")).unwrap())
    }

    pub(crate) fn descriptor(&self, tag: &str) -> Value {
        self.index()["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["annotations"]["org.opencontainers.image.ref.name"] == tag)
            .unwrap_or_else(|| panic!("no tag {tag} in {}", self.dir.display()))
            .clone()
    }

    /// The digest and exact bytes of the manifest (or index) tagged `tag`.
    pub(crate) fn manifest(&self, tag: &str) -> (String, Vec<u8>) {
        let digest = self.descriptor(tag)["digest"].as_str().unwrap().to_owned();
        let bytes = self.blob(&digest);
        assert_eq!(sha256(&bytes), digest);
        (digest, bytes)
    }

    pub(crate) fn blob(&self, digest: &str) -> Vec<u8> {
        let (alg, hex) = digest.split_once(':').unwrap();
        let path = self.dir.join("blobs").join(alg).join(hex);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// Every blob in the layout, by digest.
    pub(crate) fn blob_digests(&self) -> Vec<String> {
        let mut out = Vec::new();
        for alg in std::fs::read_dir(self.dir.join("blobs")).unwrap() {
            let alg = alg.unwrap();
            for blob in std::fs::read_dir(alg.path()).unwrap() {
                out.push(format!(
                    "{}:{}",
                    alg.file_name().to_string_lossy(),
                    blob.unwrap().file_name().to_string_lossy()
                ));
            }
        }
        out.sort();
        out
    }

    pub(crate) fn add_blob(&self, bytes: &[u8]) -> String {
        let digest = sha256(bytes);
        let hex = digest.strip_prefix("sha256:").unwrap();
        std::fs::write(self.dir.join("blobs/sha256").join(hex), bytes).unwrap();
        digest
    }

    /// Tags `descriptor` as `tag` in index.json.
    pub(crate) fn tag(&self, tag: &str, mut descriptor: Value) {
        descriptor["annotations"] = json!({ "org.opencontainers.image.ref.name": tag });
        let mut index = self.index();
        index["manifests"].as_array_mut().unwrap().push(descriptor);
        std::fs::write(
            self.dir.join("index.json"),
            serde_json::to_vec(&index).unwrap(),
        )
        .unwrap();
    }
}

/// Two layouts hold the same blobs, byte for byte, and each blob hashes to its name.
fn assert_same_blobs(want: &Layout, got: &Layout) {
    assert_eq!(got.blob_digests(), want.blob_digests());
    for digest in want.blob_digests() {
        let bytes = got.blob(&digest);
        assert_bytes_eq(&bytes, &want.blob(&digest), &digest);
        assert_eq!(sha256(&bytes), digest);
    }
}

/// A layout with linux/amd64 and linux/arm64 images and an OCI index over both tagged `multi`.
fn two_platform_layout(dir: PathBuf) -> Layout {
    let layout = Layout::create(dir);
    let mut platforms = BTreeMap::new();
    for arch in ["amd64", "arm64"] {
        layout.image(
            arch,
            arch,
            &[("arch.txt", format!("built for {arch}\n").into_bytes())],
        );
        platforms.insert(arch, layout.descriptor(arch));
    }
    layout.gc();
    let manifests: Vec<Value> = platforms
        .iter()
        .map(|(arch, d)| {
            json!({
                "mediaType": OCI_MANIFEST,
                "digest": d["digest"],
                "size": d["size"],
                "platform": { "architecture": arch, "os": "linux" },
            })
        })
        .collect();
    let index = json!({ "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests });
    let bytes = serde_json::to_vec_pretty(&index).unwrap();
    let digest = layout.add_blob(&bytes);
    layout.tag(
        "multi",
        json!({ "mediaType": OCI_INDEX, "digest": digest, "size": bytes.len() }),
    );
    layout
}

/// A containers/storage store of its own (vfs driver, no overlay or FUSE needed) for podman
/// and buildah, so parallel tests share no images, locks or state.
pub(crate) struct Store {
    dir: tempfile::TempDir,
}

impl Store {
    pub(crate) fn new() -> Store {
        let store = Store { dir: tempdir() };
        std::fs::create_dir_all(store.dir.path().join("tmp")).unwrap();
        store
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub(crate) fn podman(&self) -> Command {
        let mut cmd = Command::new(tool("podman"));
        cmd.arg("--root")
            .arg(self.path("root"))
            .arg("--runroot")
            .arg(self.path("run"))
            .arg("--tmpdir")
            .arg(self.path("libpod"))
            .args([
                "--storage-driver",
                "vfs",
                "--events-backend",
                "file",
                "--cgroup-manager",
                "cgroupfs",
            ])
            .env("TMPDIR", self.path("tmp"));
        cmd
    }

    pub(crate) fn buildah(&self) -> Command {
        let mut cmd = Command::new(tool("buildah"));
        cmd.arg("--root")
            .arg(self.path("root"))
            .arg("--runroot")
            .arg(self.path("run"))
            .args(["--storage-driver", "vfs"])
            .env("TMPDIR", self.path("tmp"));
        cmd
    }

    /// Builds `name` with buildah from scratch for linux/`arch`: one layer per file (at `/`),
    /// a label, committed as an OCI image.
    pub(crate) fn buildah_scratch(&self, name: &str, arch: &str, files: &[PathBuf]) {
        let container = run(self.buildah().args(["from", "scratch"]));
        let container = container.trim();
        for file in files {
            let at = Path::new("/").join(file.file_name().unwrap());
            run(self.buildah().args(["copy", container]).arg(file).arg(at));
        }
        run(self.buildah().args([
            "config",
            "--arch",
            arch,
            "--label",
            "org.example.built-by=vouch-tests",
            container,
        ]));
        run(self
            .buildah()
            .args(["commit", "-q", "--format", "oci", container, name]));
    }

    /// The manifest digest and image id podman records for `image`.
    pub(crate) fn podman_image(&self, image: &str) -> (String, String) {
        let out =
            run(self
                .podman()
                .args(["image", "inspect", "--format", "{{.Digest}} {{.Id}}", image]));
        let (digest, id) = out.trim().split_once(' ').expect("digest and id");
        (digest.to_owned(), id.to_owned())
    }
}

/// oras-py (a library without a command line) driven by a short script: `push` uploads one file
/// as an artifact with a config media type, manifest annotations and a `subject`, and prints
/// the manifest digest vouch answered, its `OCI-Subject` header and the exact manifest bytes
/// sent; `pull` prints the files it wrote.
const ORAS_SCRIPT: &str = r#"
import json, sys
import oras.oci, oras.provider

cmd, host, user, password, *args = sys.argv[1:]
registry = oras.provider.Registry(hostname=host, insecure=True, auth_backend="basic")
if user:
    registry.auth.set_basic_auth(user, password)
if cmd == "push":
    target, path, config_type, chunked, annotations, s_type, s_digest, s_size = args
    response = registry.push(
        target=target,
        files=[f"{path}:application/octet-stream"],
        disable_path_validation=True,
        manifest_config=f"{path}.absent:{config_type}",
        manifest_annotations=json.loads(annotations) or None,
        subject=oras.oci.Subject(s_type, s_digest, int(s_size)),
        do_chunked=chunked == "chunked",
        chunk_size=64 * 1024,
        quiet=True,
    )
    print(json.dumps({
        "digest": response.headers.get("Docker-Content-Digest"),
        "subject": response.headers.get("OCI-Subject"),
        "manifest": response.request.body.decode(),
    }))
elif cmd == "pull":
    target, outdir = args
    print(json.dumps(registry.pull(target=target, outdir=outdir)))
else:
    sys.exit(f"unknown command {cmd}")
"#;

/// oras-py as one user (or none), with a home of its own.
struct Oras {
    host: String,
    creds: Option<(String, String)>,
    home: tempfile::TempDir,
}

/// One file pushed as an artifact; its config media type is its artifact type.
struct Artifact<'a> {
    target: String,
    file: &'a Path,
    artifact_type: &'a str,
    subject: &'a Subject,
    chunked: bool,
    annotations: Value,
}

impl<'a> Artifact<'a> {
    fn new(target: &str, file: &'a Path, artifact_type: &'a str, subject: &'a Subject) -> Self {
        Artifact {
            target: target.to_owned(),
            file,
            artifact_type,
            subject,
            chunked: false,
            annotations: json!({}),
        }
    }
}

struct OrasPush {
    digest: String,
    subject_header: Option<String>,
    manifest: Vec<u8>,
}

impl Oras {
    fn new(host: &str, creds: Option<(&str, &str)>) -> Oras {
        Oras {
            host: host.to_owned(),
            creds: creds.map(|(u, p)| (u.to_owned(), p.to_owned())),
            home: tempdir(),
        }
    }

    fn command(&self, cmd: &str) -> Command {
        let mut c = Command::new(tool("python3"));
        let (user, pass) = self
            .creds
            .as_ref()
            .map_or(("", ""), |(u, p)| (u.as_str(), p.as_str()));
        // A home of its own: no docker config with credentials from elsewhere.
        c.env("HOME", self.home.path())
            .env("DOCKER_CONFIG", self.home.path())
            .args(["-c", ORAS_SCRIPT, cmd, &self.host, user, pass]);
        c
    }

    fn push_command(&self, a: &Artifact<'_>) -> Command {
        let mut c = self.command("push");
        c.args([&a.target, &path_str(a.file), a.artifact_type])
            .arg(if a.chunked { "chunked" } else { "monolithic" })
            .arg(a.annotations.to_string())
            .args([&a.subject.media_type, &a.subject.digest])
            .arg(a.subject.size.to_string());
        c
    }

    fn push(&self, artifact: &Artifact<'_>) -> OrasPush {
        let v = last_json_line(&run(&mut self.push_command(artifact)));
        OrasPush {
            digest: v["digest"]
                .as_str()
                .expect("Docker-Content-Digest")
                .to_owned(),
            subject_header: v["subject"].as_str().map(str::to_owned),
            manifest: v["manifest"].as_str().unwrap().as_bytes().to_vec(),
        }
    }

    fn pull(&self, target: &str, outdir: &Path) -> Vec<PathBuf> {
        let out = run(self.command("pull").args([target, &path_str(outdir)]));
        last_json_line(&out)
            .as_array()
            .unwrap()
            .iter()
            .map(|p| PathBuf::from(p.as_str().unwrap()))
            .collect()
    }
}

fn last_json_line(out: &str) -> Value {
    let line = out
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_else(|| panic!("no output: {out:?}"));
    json_of(line)
}

fn path_str(p: &Path) -> String {
    p.to_str().expect("UTF-8 temporary path").to_owned()
}

/// curl's `@file` argument.
fn at(p: &Path) -> String {
    format!("@{}", path_str(p))
}

fn write_temp(tmp: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = tmp.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Runs curl with `args` and returns the final response (after any `100 Continue`).
fn curl(tmp: &tempfile::TempDir, args: &[&str]) -> Response {
    let head = tmp.path().join("curl.head");
    let body = tmp.path().join("curl.body");
    let _ = std::fs::remove_file(&head);
    let _ = std::fs::remove_file(&body);
    run(Command::new(tool("curl"))
        .args(["-sS", "-D"])
        .arg(&head)
        .arg("-o")
        .arg(&body)
        .args(args));
    let text = std::fs::read_to_string(&head).unwrap();
    let block = text
        .split("\r\n\r\n")
        .filter(|b| !b.trim().is_empty())
        .last()
        .unwrap_or_else(|| panic!("no response headers from curl {args:?}"));
    let mut lines = block.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line in {block:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    // With -I curl writes the headers as the output: a HEAD response has no body.
    let body = if args.contains(&"-I") {
        Vec::new()
    } else {
        std::fs::read(&body).unwrap_or_default()
    };
    Response {
        status,
        headers,
        body,
    }
}

const OCTETS: &str = "application/octet-stream";

/// curl sending `file` as the body of a `method` request with this content type and more
/// headers (`Name: value`).
fn send(
    tmp: &tempfile::TempDir,
    method: &str,
    url: &str,
    file: &Path,
    content_type: &str,
    headers: &[&str],
) -> Response {
    let content_type = format!("Content-Type: {content_type}");
    let data = at(file);
    let mut args = vec!["-X", method, "-H", &content_type];
    for h in headers {
        args.extend(["-H", h]);
    }
    args.extend(["--data-binary", &data, url]);
    curl(tmp, &args)
}

/// Opens an upload session with curl; returns its location (a path).
fn start_upload(tmp: &tempfile::TempDir, base: &str) -> String {
    let r = curl(tmp, &["-X", "POST", &format!("{base}/blobs/uploads/")]);
    assert_eq!(r.status, 202);
    assert!(r.header("docker-upload-uuid").is_some());
    r.header("location").expect("Location").to_owned()
}
