//! File system information classes (MS-FSCC 2.5) used with QUERY_INFO `InfoType::FILESYSTEM`.
//!
//! Owns: one struct per class with its codec. Must not: interpret the values.

use super::{InfoCodec, read_name_u32, write_name_u32};
use crate::open_enum;
use crate::wire::cursor::{Reader, Writer};
use crate::wire::error::{DecodeError, EncodeError};
use crate::wire::fscc::fixed_info;
use crate::wire::types::Guid;

/// FileFsVolumeInformation (MS-FSCC 2.5.9).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileFsVolumeInformation {
    /// VolumeCreationTime (FILETIME).
    pub volume_creation_time: u64,
    /// VolumeSerialNumber.
    pub volume_serial_number: u32,
    /// SupportsObjects.
    pub supports_objects: bool,
    /// VolumeLabel.
    pub volume_label: String,
}

impl InfoCodec for FileFsVolumeInformation {
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let volume_creation_time = r.u64("FileFsVolumeInformation.VolumeCreationTime")?;
        let volume_serial_number = r.u32("FileFsVolumeInformation.VolumeSerialNumber")?;
        let len = r.u32("FileFsVolumeInformation.VolumeLabelLength")? as usize;
        let supports_objects = r.u8("FileFsVolumeInformation.SupportsObjects")? != 0;
        r.skip(1, "FileFsVolumeInformation.Reserved")?;
        let volume_label = super::read_utf16(r, len, "FileFsVolumeInformation.VolumeLabel")?;
        Ok(Self {
            volume_creation_time,
            volume_serial_number,
            supports_objects,
            volume_label,
        })
    }
    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u64(self.volume_creation_time);
        w.u32(self.volume_serial_number);
        let len = crate::wire::cursor::len_u32(
            crate::wire::cursor::utf16le_len(&self.volume_label),
            "FileFsVolumeInformation.VolumeLabelLength",
        )?;
        w.u32(len);
        w.u8(u8::from(self.supports_objects));
        w.u8(0);
        crate::wire::cursor::put_utf16le(w, &self.volume_label);
        Ok(())
    }
}

impl super::FsInformation for FileFsVolumeInformation {
    const CLASS: super::FsInfoClass = super::FsInfoClass::VOLUME;
}

fixed_info! {
    /// FileFsSizeInformation (MS-FSCC 2.5.8).
    pub struct FileFsSizeInformation: FsInformation = FsInfoClass::SIZE {
        /// TotalAllocationUnits.
        pub total_allocation_units: u64 => "FileFsSizeInformation.TotalAllocationUnits",
        /// AvailableAllocationUnits.
        pub available_allocation_units: u64 => "FileFsSizeInformation.AvailableAllocationUnits",
        /// SectorsPerAllocationUnit.
        pub sectors_per_allocation_unit: u32 => "FileFsSizeInformation.SectorsPerAllocationUnit",
        /// BytesPerSector.
        pub bytes_per_sector: u32 => "FileFsSizeInformation.BytesPerSector",
    }
    reserved 0;
}

fixed_info! {
    /// FileFsFullSizeInformation (MS-FSCC 2.5.4).
    pub struct FileFsFullSizeInformation: FsInformation = FsInfoClass::FULL_SIZE {
        /// TotalAllocationUnits.
        pub total_allocation_units: u64 => "FileFsFullSizeInformation.TotalAllocationUnits",
        /// CallerAvailableAllocationUnits.
        pub caller_available_allocation_units: u64
            => "FileFsFullSizeInformation.CallerAvailableAllocationUnits",
        /// ActualAvailableAllocationUnits.
        pub actual_available_allocation_units: u64
            => "FileFsFullSizeInformation.ActualAvailableAllocationUnits",
        /// SectorsPerAllocationUnit.
        pub sectors_per_allocation_unit: u32
            => "FileFsFullSizeInformation.SectorsPerAllocationUnit",
        /// BytesPerSector.
        pub bytes_per_sector: u32 => "FileFsFullSizeInformation.BytesPerSector",
    }
    reserved 0;
}

open_enum! {
    /// DeviceType values of FileFsDeviceInformation (MS-FSCC 2.5.10).
    pub struct DeviceType(u32) {
        CD_ROM = 0x0000_0002,
        DISK = 0x0000_0007,
        NAMED_PIPE = 0x0000_0011,
        NETWORK_FILE_SYSTEM = 0x0000_0014,
    }
}
crate::wire::fscc::wire_field_newtype!(DeviceType => u32);

fixed_info! {
    /// FileFsDeviceInformation (MS-FSCC 2.5.10).
    pub struct FileFsDeviceInformation: FsInformation = FsInfoClass::DEVICE {
        /// DeviceType.
        pub device_type: DeviceType => "FileFsDeviceInformation.DeviceType",
        /// Characteristics (FILE_REMOTE_DEVICE, FILE_DEVICE_IS_MOUNTED, ...).
        pub characteristics: u32 => "FileFsDeviceInformation.Characteristics",
    }
    reserved 0;
}

open_enum! {
    /// FileSystemAttributes of FileFsAttributeInformation (MS-FSCC 2.5.1). A bit set.
    pub struct FsAttributes(u32) {
        CASE_SENSITIVE_SEARCH = 0x0000_0001,
        CASE_PRESERVED_NAMES = 0x0000_0002,
        UNICODE_ON_DISK = 0x0000_0004,
        PERSISTENT_ACLS = 0x0000_0008,
        FILE_COMPRESSION = 0x0000_0010,
        VOLUME_QUOTAS = 0x0000_0020,
        SUPPORTS_SPARSE_FILES = 0x0000_0040,
        SUPPORTS_REPARSE_POINTS = 0x0000_0080,
        SUPPORTS_REMOTE_STORAGE = 0x0000_0100,
        VOLUME_IS_COMPRESSED = 0x0000_8000,
        SUPPORTS_OBJECT_IDS = 0x0001_0000,
        SUPPORTS_ENCRYPTION = 0x0002_0000,
        NAMED_STREAMS = 0x0004_0000,
        READ_ONLY_VOLUME = 0x0008_0000,
        SEQUENTIAL_WRITE_ONCE = 0x0010_0000,
        SUPPORTS_TRANSACTIONS = 0x0020_0000,
        SUPPORTS_HARD_LINKS = 0x0040_0000,
        SUPPORTS_EXTENDED_ATTRIBUTES = 0x0080_0000,
        SUPPORTS_OPEN_BY_FILE_ID = 0x0100_0000,
        SUPPORTS_USN_JOURNAL = 0x0200_0000,
        SUPPORTS_INTEGRITY_STREAMS = 0x0400_0000,
        SUPPORTS_BLOCK_REFCOUNTING = 0x0800_0000,
        SUPPORTS_SPARSE_VDL = 0x1000_0000,
    }
}
crate::wire::fscc::flag_ops!(FsAttributes);

/// FileFsAttributeInformation (MS-FSCC 2.5.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileFsAttributeInformation {
    /// FileSystemAttributes.
    pub file_system_attributes: FsAttributes,
    /// MaximumComponentNameLength (signed on the wire).
    pub maximum_component_name_length: i32,
    /// FileSystemName, e.g. "NTFS".
    pub file_system_name: String,
}

impl InfoCodec for FileFsAttributeInformation {
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let attrs = r.u32("FileFsAttributeInformation.FileSystemAttributes")?;
        let max = r.u32("FileFsAttributeInformation.MaximumComponentNameLength")?;
        let file_system_name = read_name_u32(
            r,
            "FileFsAttributeInformation.FileSystemNameLength",
            "FileFsAttributeInformation.FileSystemName",
        )?;
        Ok(Self {
            file_system_attributes: FsAttributes(attrs),
            maximum_component_name_length: i32::from_le_bytes(max.to_le_bytes()),
            file_system_name,
        })
    }
    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u32(self.file_system_attributes.0);
        w.bytes(&self.maximum_component_name_length.to_le_bytes());
        write_name_u32(
            w,
            &self.file_system_name,
            "FileFsAttributeInformation.FileSystemNameLength",
        )
    }
}

impl super::FsInformation for FileFsAttributeInformation {
    const CLASS: super::FsInfoClass = super::FsInfoClass::ATTRIBUTE;
}

fixed_info! {
    /// FileFsSectorSizeInformation (MS-FSCC 2.5.7).
    pub struct FileFsSectorSizeInformation: FsInformation = FsInfoClass::SECTOR_SIZE {
        /// LogicalBytesPerSector.
        pub logical_bytes_per_sector: u32
            => "FileFsSectorSizeInformation.LogicalBytesPerSector",
        /// PhysicalBytesPerSectorForAtomicity.
        pub physical_bytes_per_sector_for_atomicity: u32
            => "FileFsSectorSizeInformation.PhysicalBytesPerSectorForAtomicity",
        /// PhysicalBytesPerSectorForPerformance.
        pub physical_bytes_per_sector_for_performance: u32
            => "FileFsSectorSizeInformation.PhysicalBytesPerSectorForPerformance",
        /// FileSystemEffectivePhysicalBytesPerSectorForAtomicity.
        pub effective_physical_bytes_per_sector_for_atomicity: u32
            => "FileFsSectorSizeInformation.FileSystemEffectivePhysicalBytesPerSectorForAtomicity",
        /// Flags (SSINFO_FLAGS_*).
        pub flags: u32 => "FileFsSectorSizeInformation.Flags",
        /// ByteOffsetForSectorAlignment.
        pub byte_offset_for_sector_alignment: u32
            => "FileFsSectorSizeInformation.ByteOffsetForSectorAlignment",
        /// ByteOffsetForPartitionAlignment.
        pub byte_offset_for_partition_alignment: u32
            => "FileFsSectorSizeInformation.ByteOffsetForPartitionAlignment",
    }
    reserved 0;
}

fixed_info! {
    /// FileFsControlInformation (MS-FSCC 2.5.2): a volume's quota settings. The three
    /// filtering fields are signed on the wire; the two defaults use all ones for "none".
    pub struct FileFsControlInformation: FsInformation = FsInfoClass::CONTROL {
        /// FreeSpaceStartFiltering.
        pub free_space_start_filtering: u64
            => "FileFsControlInformation.FreeSpaceStartFiltering",
        /// FreeSpaceThreshold.
        pub free_space_threshold: u64 => "FileFsControlInformation.FreeSpaceThreshold",
        /// FreeSpaceStopFiltering.
        pub free_space_stop_filtering: u64
            => "FileFsControlInformation.FreeSpaceStopFiltering",
        /// DefaultQuotaThreshold.
        pub default_quota_threshold: u64 => "FileFsControlInformation.DefaultQuotaThreshold",
        /// DefaultQuotaLimit.
        pub default_quota_limit: u64 => "FileFsControlInformation.DefaultQuotaLimit",
        /// FileSystemControlFlags (FILE_VC_*).
        pub file_system_control_flags: u32
            => "FileFsControlInformation.FileSystemControlFlags",
    }
    reserved 4;
}

/// FileFsObjectIdInformation (MS-FSCC 2.5.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFsObjectIdInformation {
    /// ObjectId: the volume's GUID.
    pub object_id: Guid,
    /// ExtendedInfo (48 bytes, opaque).
    pub extended_info: [u8; 48],
}

impl Default for FileFsObjectIdInformation {
    fn default() -> Self {
        Self {
            object_id: Guid::default(),
            extended_info: [0; 48],
        }
    }
}

impl InfoCodec for FileFsObjectIdInformation {
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            object_id: Guid(r.array("FileFsObjectIdInformation.ObjectId")?),
            extended_info: r.array("FileFsObjectIdInformation.ExtendedInfo")?,
        })
    }
    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.bytes(&self.object_id.0);
        w.bytes(&self.extended_info);
        Ok(())
    }
}

impl super::FsInformation for FileFsObjectIdInformation {
    const CLASS: super::FsInfoClass = super::FsInfoClass::OBJECT_ID;
}

/// Any supported file system information class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FsInfo {
    /// [`FileFsVolumeInformation`].
    Volume(FileFsVolumeInformation),
    /// [`FileFsSizeInformation`].
    Size(FileFsSizeInformation),
    /// [`FileFsFullSizeInformation`].
    FullSize(FileFsFullSizeInformation),
    /// [`FileFsDeviceInformation`].
    Device(FileFsDeviceInformation),
    /// [`FileFsAttributeInformation`].
    Attribute(FileFsAttributeInformation),
    /// [`FileFsSectorSizeInformation`].
    SectorSize(FileFsSectorSizeInformation),
    /// [`FileFsObjectIdInformation`].
    ObjectId(FileFsObjectIdInformation),
    /// [`FileFsControlInformation`].
    Control(FileFsControlInformation),
}

impl FsInfo {
    /// Decodes `buf` as the structure of `class`; an unsupported class is an error naming
    /// `FsInformationClass`.
    pub fn decode(class: super::FsInfoClass, buf: &bytes::Bytes) -> Result<Self, DecodeError> {
        use super::FsInfoClass as C;
        Ok(match class {
            C::VOLUME => Self::Volume(InfoCodec::decode(buf)?),
            C::SIZE => Self::Size(InfoCodec::decode(buf)?),
            C::FULL_SIZE => Self::FullSize(InfoCodec::decode(buf)?),
            C::DEVICE => Self::Device(InfoCodec::decode(buf)?),
            C::ATTRIBUTE => Self::Attribute(InfoCodec::decode(buf)?),
            C::SECTOR_SIZE => Self::SectorSize(InfoCodec::decode(buf)?),
            C::OBJECT_ID => Self::ObjectId(InfoCodec::decode(buf)?),
            C::CONTROL => Self::Control(InfoCodec::decode(buf)?),
            other => {
                return Err(DecodeError::InvalidValue {
                    field: "FsInformationClass",
                    value: other.0.into(),
                });
            }
        })
    }

    /// The class of this structure.
    pub fn class(&self) -> super::FsInfoClass {
        use super::FsInformation;
        match self {
            Self::Volume(_) => FileFsVolumeInformation::CLASS,
            Self::Size(_) => FileFsSizeInformation::CLASS,
            Self::FullSize(_) => FileFsFullSizeInformation::CLASS,
            Self::Device(_) => FileFsDeviceInformation::CLASS,
            Self::Attribute(_) => FileFsAttributeInformation::CLASS,
            Self::SectorSize(_) => FileFsSectorSizeInformation::CLASS,
            Self::ObjectId(_) => FileFsObjectIdInformation::CLASS,
            Self::Control(_) => FileFsControlInformation::CLASS,
        }
    }

    /// Appends the structure.
    pub fn encode(&self, out: &mut bytes::BytesMut) -> Result<(), EncodeError> {
        match self {
            Self::Volume(x) => x.encode(out),
            Self::Size(x) => x.encode(out),
            Self::FullSize(x) => x.encode(out),
            Self::Device(x) => x.encode(out),
            Self::Attribute(x) => x.encode(out),
            Self::SectorSize(x) => x.encode(out),
            Self::ObjectId(x) => x.encode(out),
            Self::Control(x) => x.encode(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::fscc::test_support::{info_round_trip, name};
    use bytes::Bytes;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn fs_classes_round_trip(
            size in any::<FileFsSizeInformation>(),
            full in any::<FileFsFullSizeInformation>(),
            dev in any::<FileFsDeviceInformation>(),
            sector in any::<FileFsSectorSizeInformation>(),
            control in any::<FileFsControlInformation>(),
            label in name(),
            t in any::<u64>(),
            serial in any::<u32>(),
            objects in any::<bool>(),
            attrs in any::<u32>(),
            max in any::<i32>(),
            ext in proptest::collection::vec(any::<u8>(), 48),
            oid in any::<Guid>(),
        ) {
            prop_assert_eq!(info_round_trip(&size).len(), 24);
            prop_assert_eq!(info_round_trip(&full).len(), 32);
            prop_assert_eq!(info_round_trip(&dev).len(), 8);
            prop_assert_eq!(info_round_trip(&sector).len(), 28);
            prop_assert_eq!(info_round_trip(&control).len(), 48);
            let vol = FileFsVolumeInformation {
                volume_creation_time: t,
                volume_serial_number: serial,
                supports_objects: objects,
                volume_label: label.clone(),
            };
            prop_assert_eq!(info_round_trip(&vol).len(), 18 + label.encode_utf16().count() * 2);
            let at = FileFsAttributeInformation {
                file_system_attributes: FsAttributes(attrs),
                maximum_component_name_length: max,
                file_system_name: label,
            };
            info_round_trip(&at);
            let mut extended_info = [0u8; 48];
            extended_info.copy_from_slice(&ext);
            prop_assert_eq!(
                info_round_trip(&FileFsObjectIdInformation { object_id: oid, extended_info })
                    .len(),
                64
            );
        }

        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..100)) {
            let b = Bytes::from(b);
            let _ = FileFsVolumeInformation::decode(&b);
            let _ = FileFsAttributeInformation::decode(&b);
            for class in 0..=12u8 {
                let _ = FsInfo::decode(crate::wire::fscc::FsInfoClass(class), &b);
            }
        }
    }

    #[test]
    fn fs_info_dispatches_on_class() {
        let x = FsInfo::Device(FileFsDeviceInformation {
            device_type: DeviceType::DISK,
            characteristics: 0x20,
        });
        let mut out = bytes::BytesMut::new();
        x.encode(&mut out).unwrap();
        assert_eq!(FsInfo::decode(x.class(), &out.freeze()).unwrap(), x);
        assert!(FsInfo::decode(crate::wire::fscc::FsInfoClass::LABEL, &Bytes::new()).is_err());
    }

    #[test]
    fn attribute_information_layout() {
        let at = FileFsAttributeInformation {
            file_system_attributes: FsAttributes::CASE_PRESERVED_NAMES
                | FsAttributes::UNICODE_ON_DISK,
            maximum_component_name_length: 255,
            file_system_name: "NTFS".into(),
        };
        let b = at.to_bytes().unwrap();
        assert_eq!(
            &b[..],
            &[
                6, 0, 0, 0, 255, 0, 0, 0, 8, 0, 0, 0, b'N', 0, b'T', 0, b'F', 0, b'S', 0
            ]
        );
    }
}
