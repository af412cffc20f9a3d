#![no_main]
//! FSCTL payloads (MS-SMB2 2.2.31.x / 2.2.32.x, MS-DFSC, MS-FSCC 2.3): the first byte (mod
//! 15) picks the structure, the rest is its buffer.
use libfuzzer_sys::fuzz_target;
use smb_proto::wire::fsctl::{
    AllocatedRange, CopyChunkRequest, CopyChunkResponse, DfsReferralExRequest, DfsReferralRequest,
    DfsReferralResponse, NetworkInterfaceInfoList, PipeTransceive, PipeWaitRequest,
    ReparseDataBuffer, ResumeKeyResponse, SetSparse, ValidateNegotiateInfoRequest,
    ValidateNegotiateInfoResponse, ZeroDataInformation,
};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    match sel % 15 {
        0 => smb_fuzz::info::<ValidateNegotiateInfoRequest>(rest),
        1 => smb_fuzz::info::<ValidateNegotiateInfoResponse>(rest),
        2 => smb_fuzz::info::<NetworkInterfaceInfoList>(rest),
        3 => smb_fuzz::info::<PipeTransceive>(rest),
        4 => smb_fuzz::info::<PipeWaitRequest>(rest),
        5 => smb_fuzz::info::<ResumeKeyResponse>(rest),
        6 => smb_fuzz::info::<CopyChunkRequest>(rest),
        7 => smb_fuzz::info::<CopyChunkResponse>(rest),
        8 => smb_fuzz::info::<DfsReferralRequest>(rest),
        9 => smb_fuzz::info::<DfsReferralExRequest>(rest),
        10 => smb_fuzz::info::<DfsReferralResponse>(rest),
        11 => smb_fuzz::info::<SetSparse>(rest),
        12 => smb_fuzz::info::<ReparseDataBuffer>(rest),
        13 => smb_fuzz::info::<AllocatedRange>(rest),
        14 => smb_fuzz::info::<ZeroDataInformation>(rest),
        _ => {}
    }
});
