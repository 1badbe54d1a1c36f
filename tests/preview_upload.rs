//! Customer uploads: accepted formats, re-encoding and content ids, limits (bytes, pixels, decompression bombs), bad input, the file store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Cursor;

use bespoke::preview::upload::{
    FsUploadStore, UploadError, UploadLimits, UploadStore, accept, is_upload_id,
};
use proptest::prelude::*;

fn encode(img: &image::RgbaImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    match format {
        image::ImageFormat::Jpeg => image::DynamicImage::ImageRgba8(img.clone())
            .to_rgb8()
            .write_to(&mut Cursor::new(&mut out), format)
            .unwrap(),
        _ => img.write_to(&mut Cursor::new(&mut out), format).unwrap(),
    }
    out
}

fn gradient(w: u32, h: u32) -> image::RgbaImage {
    image::RgbaImage::from_fn(w, h, |x, y| {
        image::Rgba([(x * 7) as u8, (y * 5) as u8, ((x + y) * 3) as u8, 255])
    })
}

#[test]
fn png_jpeg_and_webp_are_accepted_and_reencoded_as_png() {
    let img = gradient(40, 30);
    for format in [
        image::ImageFormat::Png,
        image::ImageFormat::Jpeg,
        image::ImageFormat::WebP,
    ] {
        let bytes = encode(&img, format);
        let up = accept(&bytes, &UploadLimits::default()).unwrap();
        assert_eq!((up.width, up.height), (40, 30), "{format:?}");
        assert_eq!(up.content_type, "image/png");
        assert_eq!(
            image::guess_format(&up.bytes).unwrap(),
            image::ImageFormat::Png
        );
        assert!(is_upload_id(&up.id));
        let decoded = image::load_from_memory(&up.bytes).unwrap().to_rgba8();
        if format != image::ImageFormat::Jpeg {
            assert_eq!(
                decoded.as_raw(),
                img.as_raw(),
                "lossless formats keep every pixel"
            );
        }
    }
}

#[test]
fn the_id_is_the_content_hash_of_the_reencoded_image() {
    let bytes = encode(&gradient(20, 20), image::ImageFormat::Png);
    let a = accept(&bytes, &UploadLimits::default()).unwrap();
    let b = accept(&bytes, &UploadLimits::default()).unwrap();
    assert_eq!(a.id, b.id);
    use sha2::Digest;
    let hex: String = sha2::Sha256::digest(&a.bytes)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect();
    assert_eq!(a.id, hex);
    let other = accept(
        &encode(&gradient(21, 20), image::ImageFormat::Png),
        &UploadLimits::default(),
    )
    .unwrap();
    assert_ne!(a.id, other.id);
}

#[test]
fn wrong_types_are_refused() {
    let gif = {
        let mut out = Vec::new();
        gradient(4, 4)
            .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Gif)
            .ok();
        out
    };
    let svg =
        br#"<svg xmlns="http://www.w3.org/2000/svg"><image href="file:///etc/passwd"/></svg>"#;
    for bytes in [
        b"hello, world".as_slice(),
        svg.as_slice(),
        b"GIF89a\x01\x00\x01\x00".as_slice(),
        gif.as_slice(),
    ] {
        if bytes.is_empty() {
            continue;
        }
        assert!(
            matches!(
                accept(bytes, &UploadLimits::default()),
                Err(UploadError::UnsupportedType)
            ),
            "{:?}",
            &bytes[..bytes.len().min(12)]
        );
    }
    assert!(matches!(
        accept(&[], &UploadLimits::default()),
        Err(UploadError::Empty)
    ));
}

#[test]
fn truncated_files_are_refused() {
    for format in [
        image::ImageFormat::Png,
        image::ImageFormat::Jpeg,
        image::ImageFormat::WebP,
    ] {
        let bytes = encode(&gradient(64, 64), format);
        for cut in [8, 20, bytes.len() / 2, bytes.len() * 3 / 4] {
            let r = accept(&bytes[..cut], &UploadLimits::default());
            assert!(r.is_err(), "{format:?} cut at {cut} was accepted");
        }
    }
}

#[test]
fn byte_and_pixel_limits_hold() {
    let bytes = encode(&gradient(64, 64), image::ImageFormat::Png);
    let small = UploadLimits {
        max_bytes: 100,
        ..UploadLimits::default()
    };
    assert!(matches!(
        accept(&bytes, &small),
        Err(UploadError::TooLarge { .. })
    ));
    // A wide strip: few bytes, too many pixels on one side.
    let wide = encode(&image::RgbaImage::new(5000, 1), image::ImageFormat::Png);
    let err = accept(&wide, &UploadLimits::default()).unwrap_err();
    assert!(
        matches!(
            err,
            UploadError::TooManyPixels { .. } | UploadError::LimitsExceeded
        ),
        "{err}"
    );
}

#[test]
fn a_decompression_bomb_is_refused_before_it_is_decoded() {
    // 4096 x 4096 of one colour: a few kilobytes of PNG, 64 MiB of pixels.
    let mut bomb = Vec::new();
    {
        use image::ImageEncoder as _;
        image::codecs::png::PngEncoder::new_with_quality(
            Cursor::new(&mut bomb),
            image::codecs::png::CompressionType::Best,
            image::codecs::png::FilterType::NoFilter,
        )
        .write_image(
            &vec![0u8; 4096 * 4096 * 4],
            4096,
            4096,
            image::ExtendedColorType::Rgba8,
        )
        .unwrap();
    }
    assert!(bomb.len() < 200_000, "{}", bomb.len());
    let limits = UploadLimits {
        max_alloc: 16 * 1024 * 1024,
        ..UploadLimits::default()
    };
    let err = accept(&bomb, &limits).unwrap_err();
    assert!(matches!(err, UploadError::LimitsExceeded), "{err}");
}

#[test]
fn a_header_claiming_huge_dimensions_is_refused() {
    // A valid PNG whose IHDR is rewritten to 100000 x 100000 (with a correct CRC).
    let mut png = encode(&gradient(8, 8), image::ImageFormat::Png);
    png[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    png[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    let err = accept(&png, &UploadLimits::default()).unwrap_err();
    assert!(
        matches!(
            err,
            UploadError::TooManyPixels { .. } | UploadError::LimitsExceeded
        ),
        "{err}"
    );
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    /// Arbitrary bytes never panic; whatever is accepted is a PNG named by its hash.
    #[test]
    fn arbitrary_bytes_never_panic(prefix in prop::sample::select(vec![
        b"\x89PNG\r\n\x1a\n".to_vec(), b"\xff\xd8\xff".to_vec(), b"RIFF\x00\x00\x00\x00WEBPVP8L".to_vec(), Vec::new(),
    ]), tail in prop::collection::vec(any::<u8>(), 0..512)) {
        let mut bytes = prefix;
        bytes.extend(tail);
        if let Ok(up) = accept(&bytes, &UploadLimits::default()) {
            prop_assert!(is_upload_id(&up.id));
            prop_assert_eq!(image::guess_format(&up.bytes).ok(), Some(image::ImageFormat::Png));
        }
    }
}

#[test]
fn the_file_store_round_trips_and_refuses_bad_ids() {
    let dir =
        std::env::temp_dir().join(format!("bespoke-uploads-{}", uuid::Uuid::now_v7().simple()));
    let store = FsUploadStore::new(&dir).unwrap();
    let up = accept(
        &encode(&gradient(10, 10), image::ImageFormat::Png),
        &UploadLimits::default(),
    )
    .unwrap();
    assert_eq!(store.get(&up.id).unwrap(), None);
    store.put(&up).unwrap();
    store.put(&up).unwrap();
    assert_eq!(
        store.get(&up.id).unwrap().as_deref(),
        Some(up.bytes.as_slice())
    );
    // The normalised PNG and the original, each in its folder; no temporaries left.
    let files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
        .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files.iter().all(|f| !f.starts_with('.')), "{files:?}");
    assert_eq!(
        store.stored().original(&up.id).unwrap().unwrap().bytes,
        up.original,
        "the original is kept as sent"
    );
    for bad in [
        "../../etc/passwd",
        "",
        "ABC",
        &"g".repeat(64),
        &"A".repeat(64),
    ] {
        assert!(
            matches!(store.get(bad), Err(UploadError::BadId(_))),
            "{bad}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}
