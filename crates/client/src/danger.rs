//! Options that weaken transport security, kept apart so that using one is visible in review
//! (as rustls does): plain HTTP to a named registry.

use crate::client::ClientConfig;
use crate::image_ref::Registry;

/// Returned by [`ClientConfig::dangerous`].
pub struct DangerousConfig<'a> {
    config: &'a mut ClientConfig,
}

impl<'a> DangerousConfig<'a> {
    pub(crate) fn new(config: &'a mut ClientConfig) -> DangerousConfig<'a> {
        DangerousConfig { config }
    }

    /// Allows plain HTTP to `registry` (cosign's `--allow-http-registry`, for a registry on
    /// loopback): HTTPS is still tried first, and HTTP used only if HTTPS gets no answer. Also
    /// allows an `http://` token realm or redirect target on that host. Credentials sent over
    /// HTTP travel in clear text.
    pub fn allow_http(&mut self, registry: &Registry) -> &mut DangerousConfig<'a> {
        self.config
            .allow_http
            .insert(registry.api_authority().to_owned());
        self
    }
}
