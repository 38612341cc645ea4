//! Fuzz the workload-file reader (and the small documents' walker under it, which also reads
//! supervisor.json, the supervisor's state and its control requests): any input must give a
//! workload or an error, never a panic, a crash or a hang. Seed corpus: tests/fixtures/workloads.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = mote::spec::workload::Workload::parse("/etc/mote/workloads/fuzz.json", data);
    // The walker's readers on whatever the document holds.
    if let Ok(d) = mote::spec::value::document(data) {
        for key in ["name", "op", "workloads", "watchdog", "a", ""] {
            let _ = d.str(key);
            let _ = d.bool(key);
            let _ = d.u32(key);
            let _ = d.i64(key);
            let _ = d.strs(key, 4, "LIMIT");
            if let Ok(Some(items)) = d.list(key, 8, "LIMIT") {
                for t in items {
                    if let Ok(o) = mote::spec::value::Obj::at(t, "x[]") {
                        let _ = o.str("name");
                        let _ = o.u64("pid");
                    }
                }
            }
            if let Ok(Some(o)) = d.obj(key, key) {
                let _ = o.str("device");
            }
        }
    }
});
