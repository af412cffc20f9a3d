//! Codec benchmarks (issue 2): decode and encode a 64 KiB WRITE request, a 1 MiB READ response,
//! a NEGOTIATE request with every context and a 5-message compound; and decoding a READ
//! response's header and body at 4 KiB, 64 KiB and 1 MiB of payload, which must take the same
//! time whatever the size (the data is a zero-copy slice of the received frame).
//!
//! Run: `cargo bench -p benches --bench codec` (results and method in `benches/CODEC.md`).
//! Measurement times are short on purpose: the machine has two shared, noisy cores.

use std::hint::black_box;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use smb_crypto::{CipherId, SigningAlgorithm};
use smb_proto::wire::Body;
use smb_proto::wire::close::CloseRequest;
use smb_proto::wire::compound::{CompoundBuilder, split_compound};
use smb_proto::wire::create::{
    CreateDisposition, CreateOptions, CreateRequest, ImpersonationLevel, ShareAccess,
};
use smb_proto::wire::cursor::Reader;
use smb_proto::wire::fscc::attributes::AccessMask;
use smb_proto::wire::header::{Header, HeaderFlags};
use smb_proto::wire::message::{
    Request, RequestBody, Response, ResponseBody, ResponsePayload, decode_request, decode_response,
};
use smb_proto::wire::negotiate::{Capabilities, NegotiateRequest, SecurityMode};
use smb_proto::wire::negotiate_context::{
    CompressionAlgorithm, CompressionCapabilities, CompressionCapabilityFlags,
    EncryptionCapabilities, HashAlgorithm, NegotiateContext, PreauthIntegrityCapabilities,
    RdmaTransformCapabilities, RdmaTransformId, SigningCapabilities, TransportCapabilities,
    TransportCapabilityFlags,
};
use smb_proto::wire::query_info::{InfoType, QueryInfoRequest};
use smb_proto::wire::read::{ReadRequest, ReadResponse};
use smb_proto::wire::write::WriteRequest;
use smb_proto::wire::{Command, Dialect, FileId, Guid, MessageId, SessionId};

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

fn header(command: Command, id: u64, response: bool) -> Header {
    let mut flags = HeaderFlags::empty();
    if response {
        flags.insert(HeaderFlags::SERVER_TO_REDIR);
    }
    Header {
        command,
        message_id: MessageId(id),
        session_id: SessionId(0x1234_5678),
        credits: 32,
        flags,
        ..Header::default()
    }
}

fn file_id() -> FileId {
    FileId {
        persistent: 7,
        volatile: 0xABCD,
    }
}

fn payload(len: usize) -> Bytes {
    Bytes::from((0..len).map(|i| i as u8).collect::<Vec<u8>>())
}

fn write_request(len: usize) -> Request {
    Request {
        header: header(Command::WRITE, 10, false),
        body: RequestBody::Write(WriteRequest {
            offset: 1 << 20,
            file_id: file_id(),
            data: payload(len),
            ..WriteRequest::default()
        }),
    }
}

fn read_response(len: usize) -> Response {
    Response {
        header: header(Command::READ, 11, true),
        payload: ResponsePayload::Body(ResponseBody::Read(ReadResponse {
            data_remaining: 0,
            flags: 0,
            data: payload(len),
        })),
    }
}

fn negotiate_request() -> Request {
    Request {
        header: header(Command::NEGOTIATE, 0, false),
        body: RequestBody::Negotiate(NegotiateRequest {
            security_mode: SecurityMode::SIGNING_ENABLED,
            capabilities: Capabilities::DFS | Capabilities::LEASING | Capabilities::LARGE_MTU,
            client_guid: Guid([0x11; 16]),
            client_start_time: 0,
            dialects: Dialect::ALL.to_vec(),
            contexts: vec![
                NegotiateContext::PreauthIntegrity(PreauthIntegrityCapabilities {
                    hash_algorithms: vec![HashAlgorithm::SHA512],
                    salt: Bytes::from_static(&[0xAB; 32]),
                }),
                NegotiateContext::Encryption(EncryptionCapabilities {
                    ciphers: vec![
                        CipherId::AES_256_GCM,
                        CipherId::AES_128_GCM,
                        CipherId::AES_256_CCM,
                        CipherId::AES_128_CCM,
                    ],
                }),
                NegotiateContext::Compression(CompressionCapabilities {
                    flags: CompressionCapabilityFlags::CHAINED,
                    algorithms: vec![CompressionAlgorithm::LZ77, CompressionAlgorithm::PATTERN_V1],
                }),
                NegotiateContext::NetName("fileserver.example.com".into()),
                NegotiateContext::Transport(TransportCapabilities {
                    flags: TransportCapabilityFlags::ACCEPT_TRANSPORT_LEVEL_SECURITY,
                }),
                NegotiateContext::RdmaTransform(RdmaTransformCapabilities {
                    transforms: vec![RdmaTransformId::ENCRYPTION, RdmaTransformId::SIGNING],
                }),
                NegotiateContext::Signing(SigningCapabilities {
                    algorithms: vec![SigningAlgorithm::AES_GMAC, SigningAlgorithm::AES_CMAC],
                }),
            ],
        }),
    }
}

/// A related compound as a client sends it: CREATE, QUERY_INFO, READ, WRITE (4 KiB), CLOSE.
fn compound_requests() -> Vec<Request> {
    let related = FileId {
        persistent: u64::MAX,
        volatile: u64::MAX,
    };
    let bodies: Vec<RequestBody> = vec![
        RequestBody::Create(CreateRequest {
            impersonation_level: ImpersonationLevel::IMPERSONATION,
            desired_access: AccessMask::GENERIC_READ | AccessMask::GENERIC_WRITE,
            share_access: ShareAccess::READ | ShareAccess::WRITE,
            create_disposition: CreateDisposition::OPEN_IF,
            create_options: CreateOptions::NON_DIRECTORY_FILE,
            name: "dir\\file.bin".into(),
            ..CreateRequest::default()
        }),
        RequestBody::QueryInfo(QueryInfoRequest {
            info_type: InfoType::FILE,
            info_class: 18,
            output_buffer_length: 4096,
            file_id: related,
            ..QueryInfoRequest::default()
        }),
        RequestBody::Read(ReadRequest {
            length: 4096,
            file_id: related,
            ..ReadRequest::default()
        }),
        RequestBody::Write(WriteRequest {
            offset: 4096,
            file_id: related,
            data: payload(4 * KIB),
            ..WriteRequest::default()
        }),
        RequestBody::Close(CloseRequest {
            file_id: related,
            ..CloseRequest::default()
        }),
    ];
    bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| {
            let mut h = header(body.command(), 20 + i as u64, false);
            if i > 0 {
                h.flags.insert(HeaderFlags::RELATED_OPERATIONS);
            }
            Request { header: h, body }
        })
        .collect()
}

fn encode_compound(reqs: &[Request], out: &mut BytesMut) {
    let mut b = CompoundBuilder::new(out);
    for r in reqs {
        let mut w = b.start_message().expect("message");
        r.header.encode(&mut w).expect("header");
        r.body.encode_into(&mut w).expect("body");
    }
    b.finish().expect("chain");
}

fn encoded_request(r: &Request) -> Bytes {
    let mut out = BytesMut::new();
    r.encode(&mut out).expect("encodes");
    out.freeze()
}

fn encoded_response(r: &Response) -> Bytes {
    let mut out = BytesMut::new();
    r.encode(&mut out).expect("encodes");
    out.freeze()
}

fn messages(c: &mut Criterion) {
    let mut g = c.benchmark_group("codec");

    let write = write_request(64 * KIB);
    let write_msg = encoded_request(&write);
    g.throughput(Throughput::Bytes(write_msg.len() as u64));
    g.bench_function("write_64k_request/decode", |b| {
        b.iter(|| decode_request(black_box(&write_msg)).expect("decodes"))
    });
    let mut out = BytesMut::with_capacity(write_msg.len());
    g.bench_function("write_64k_request/encode", |b| {
        b.iter(|| {
            out.clear();
            black_box(&write).encode(&mut out).expect("encodes");
        })
    });

    let read = read_response(MIB);
    let read_msg = encoded_response(&read);
    g.throughput(Throughput::Bytes(read_msg.len() as u64));
    g.bench_function("read_1m_response/decode", |b| {
        b.iter(|| decode_response(black_box(&read_msg)).expect("decodes"))
    });
    let mut out = BytesMut::with_capacity(read_msg.len());
    g.bench_function("read_1m_response/encode", |b| {
        b.iter(|| {
            out.clear();
            black_box(&read).encode(&mut out).expect("encodes");
        })
    });

    let neg = negotiate_request();
    let neg_msg = encoded_request(&neg);
    g.throughput(Throughput::Elements(1));
    g.bench_function("negotiate_all_contexts/decode", |b| {
        b.iter(|| decode_request(black_box(&neg_msg)).expect("decodes"))
    });
    let mut out = BytesMut::with_capacity(neg_msg.len());
    g.bench_function("negotiate_all_contexts/encode", |b| {
        b.iter(|| {
            out.clear();
            black_box(&neg).encode(&mut out).expect("encodes");
        })
    });

    let reqs = compound_requests();
    let mut chain = BytesMut::new();
    encode_compound(&reqs, &mut chain);
    let chain = chain.freeze();
    g.throughput(Throughput::Elements(reqs.len() as u64));
    g.bench_function("compound_5/decode", |b| {
        b.iter(|| {
            let parts = split_compound(black_box(&chain), 64).expect("splits");
            for p in &parts {
                black_box(decode_request(p).expect("decodes"));
            }
        })
    });
    let mut out = BytesMut::with_capacity(chain.len());
    g.bench_function("compound_5/encode", |b| {
        b.iter(|| {
            out.clear();
            encode_compound(black_box(&reqs), &mut out);
        })
    });
    g.finish();
}

/// Decoding a READ response (header and body) must not depend on the payload size: the data
/// is a zero-copy slice of the frame. `header_body` is what the data path runs (the header,
/// then the body codec its command names); `decode_response` adds the generic dispatch and the
/// move of the whole `Response` enum.
fn read_decode_zero_copy(c: &mut Criterion) {
    let mut g = c.benchmark_group("read_response_decode");
    for len in [4 * KIB, 64 * KIB, MIB] {
        let msg = encoded_response(&read_response(len));
        g.bench_with_input(BenchmarkId::new("header_body", len), &msg, |b, msg| {
            b.iter(|| {
                let msg = black_box(msg);
                let h = Header::decode(msg).expect("header");
                let body = ReadResponse::decode(&mut Reader::at(msg, Header::SIZE)).expect("body");
                debug_assert_eq!(body.data.len(), len);
                (h.message_id, body)
            })
        });
        g.bench_with_input(BenchmarkId::new("decode_response", len), &msg, |b, msg| {
            b.iter(|| {
                let r = decode_response(black_box(msg)).expect("decodes");
                black_box(&r);
            })
        });
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = messages, read_decode_zero_copy
}
criterion_main!(benches);
