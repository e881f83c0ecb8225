//! Fuzzes the job message contract (SPEC §3.3): any bytes from a queue must either be rejected
//! or parse into a `Job` that serializes and parses back to the same value.
#![no_main]

use forge_core::model::Job;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(job) = serde_json::from_slice::<Job>(data) {
        let bytes = serde_json::to_vec(&job).expect("a parsed job serializes");
        let again: Job = serde_json::from_slice(&bytes).expect("a serialized job parses");
        assert_eq!(job, again, "job message round trip changed the value");
    }
});
