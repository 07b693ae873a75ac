//! A configuration file as `serve` reads it: no panic, whatever the text; a configuration
//! that passes its checks turns into the relay's and the server's settings without one, with
//! page sizes and timeouts the checks promised.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = isac_relay::config::from_toml(text) {
        let relay = config.relay();
        let server = config.server();
        assert!(relay.page_limits.default >= 1);
        assert!(relay.page_limits.default <= relay.page_limits.max);
        assert!(!server.request_timeout.is_zero());
        assert!(server.connections.max_connections >= 1);
        assert!(server.tls.is_some() == config.tls.cert.is_some());
    }
});
