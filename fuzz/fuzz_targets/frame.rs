#![no_main]
//! Direct TCP framing: the deframer fed the input whole, in chunks whose sizes come from the
//! input, and as `Bytes` (zero-copy path) must give the same frames and the same verdict, and
//! the frames re-framed must be the input's prefix. The first byte sets the maximum frame size.
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use smb_proto::wire::frame::{Deframer, encode_frame_header};

fn run(max: usize, data: &[u8], chunk: impl Fn(usize) -> usize) -> (Vec<Bytes>, bool) {
    let mut d = Deframer::new(max);
    let mut frames = Vec::new();
    let mut pos = 0;
    let mut i = 0;
    while pos < data.len() {
        let n = chunk(i).clamp(1, data.len() - pos);
        if d.feed(&data[pos..pos + n], |f| frames.push(f)).is_err() {
            return (frames, true);
        }
        pos += n;
        i += 1;
    }
    (frames, false)
}

fuzz_target!(|data: &[u8]| {
    let Some((&k, rest)) = data.split_first() else {
        return;
    };
    let max = 1 + usize::from(k) * 16;
    let (whole, err_whole) = run(max, rest, |_| usize::MAX);
    let (chunked, err_chunked) = run(max, rest, |i| 1 + usize::from(rest[i % rest.len()] % 23));
    assert_eq!(whole, chunked);
    assert_eq!(err_whole, err_chunked);
    let mut d = Deframer::new(max);
    let mut zero_copy = Vec::new();
    let err_bytes = d
        .feed_bytes(Bytes::copy_from_slice(rest), |f| zero_copy.push(f))
        .is_err();
    assert_eq!(whole, zero_copy);
    assert_eq!(err_whole, err_bytes);
    let mut reframed = Vec::new();
    for f in &whole {
        reframed.extend_from_slice(&encode_frame_header(f.len()).expect("frame fits"));
        reframed.extend_from_slice(f);
    }
    assert_eq!(&rest[..reframed.len()], &reframed[..]);
});
