//! Fuzzes the LMTP session: arbitrary bytes become a script of client reads and shell
//! actions, a fake shell answers with verdicts drawn from the input, and the harness in
//! `mailcast_proto::fuzzing` checks every invariant (no panic, well-formed replies, one
//! reply per accepted recipient after the end of data, correct bodies and refusals).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mailcast_proto::fuzzing::run(data);
});
