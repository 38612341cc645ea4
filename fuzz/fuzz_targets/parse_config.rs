//! Fuzz the config.json parser and validator: any input must give a config or an error,
//! never a panic, a crash or a hang. Seed corpus: tests/fixtures/configs.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut arena = vec![0u8; data.len()];
    if let Ok(cfg) = mote::spec::parse_config(data, &mut arena) {
        let _ = mote::spec::validate::validate(&cfg, &mut |_| {});
        // Touch every list through the accessors the runtime uses.
        let _ = cfg.namespaces().len();
        if let Some(p) = &cfg.spec.process {
            let _ = cfg.strs(p.args).len() + cfg.strs(p.env).len();
        }
    };
});
