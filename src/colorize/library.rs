// SPDX-License-Identifier: MIT OR Apache-2.0

//! A folder of colour photos: finding them, decoding them within bounded memory, and keeping
//! its retrieval index up to date (only new or changed photos are embedded again).

use std::borrow::Cow;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::descriptor::Descriptor;
use super::index::{Index, IndexError, PhotoKey};

/// The index's file name inside the library folder when there is no per-user cache folder
/// (no `XDG_CACHE_HOME` and no `HOME`).
pub const INDEX_FILE_NAME: &str = ".exemplar-index";
const PHOTO_EXTENSIONS: [&str; 6] = ["jpg", "jpeg", "png", "webp", "tif", "tiff"];
/// Image files this build cannot read: counted per kind so a scan can say what it left out.
const UNSUPPORTED_IMAGE_EXTENSIONS: [&str; 10] = [
    "gif", "heic", "heif", "avif", "bmp", "jxl", "jp2", "dng", "cr2", "nef",
];
/// A photo smaller than this on either side cannot be matched (the encoder's grid would be a
/// single cell) and is refused.
pub const MIN_PHOTO_SIDE: u32 = 16;
/// Photos larger than this are refused before decoding, so memory stays bounded.
pub const MAX_PHOTO_PIXELS: u64 = 64_000_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Photo {
    pub path: PathBuf,
    pub key: PhotoKey,
}

#[derive(Debug, Default)]
pub struct Scan {
    pub photos: Vec<Photo>,
    /// Entries that could not be read, with the reason.
    pub unreadable: Vec<(PathBuf, String)>,
    /// Image files of kinds this build cannot read, counted by lower-case extension.
    pub unsupported: std::collections::BTreeMap<String, usize>,
    /// Folders reached a second time through a link (a loop such as `up -> ..`), not entered again.
    pub revisited_folders: Vec<PathBuf>,
}

impl Scan {
    /// "2 .gif, 1 .heic" for the unsupported image files, or `None` when there were none.
    pub fn unsupported_summary(&self) -> Option<String> {
        (!self.unsupported.is_empty()).then(|| {
            self.unsupported
                .iter()
                .map(|(kind, count)| format!("{count} .{kind}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
    }
}

fn is_photo(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| PHOTO_EXTENSIONS.iter().any(|p| e.eq_ignore_ascii_case(p)))
}

/// What identifies a folder however it is reached: device and inode where the OS has them.
#[cfg(unix)]
fn folder_identity(metadata: &std::fs::Metadata, _path: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (metadata.dev(), metadata.ino())
}

#[cfg(not(unix))]
fn folder_identity(_metadata: &std::fs::Metadata, path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Every photo below `folder` (recursively, hidden entries skipped, folder links followed but
/// each folder entered once), sorted by path.
pub fn scan(folder: &Path) -> std::io::Result<Scan> {
    let mut scan = Scan::default();
    let mut pending = vec![folder.to_path_buf()];
    let mut visited = std::collections::HashSet::new();
    visited.insert(folder_identity(&std::fs::metadata(folder)?, folder));
    std::fs::read_dir(folder)?;
    while let Some(dir) = pending.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(err) => {
                scan.unreadable.push((dir, err.to_string()));
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(err) => {
                    scan.unreadable.push((dir.clone(), err.to_string()));
                    continue;
                }
            };
            let path = entry.path();
            if entry.file_name().as_encoded_bytes().first() == Some(&b'.') {
                continue;
            }
            let metadata = match std::fs::metadata(&path) {
                Ok(metadata) => metadata,
                Err(err) => {
                    scan.unreadable.push((path, err.to_string()));
                    continue;
                }
            };
            if metadata.is_dir() {
                if visited.insert(folder_identity(&metadata, &path)) {
                    pending.push(path);
                } else {
                    scan.revisited_folders.push(path);
                }
            } else if metadata.is_file() && !is_photo(&path) {
                if let Some(kind) = path
                    .extension()
                    .and_then(|e| e.to_str())
                    .map(str::to_ascii_lowercase)
                    .filter(|e| UNSUPPORTED_IMAGE_EXTENSIONS.contains(&e.as_str()))
                {
                    *scan.unsupported.entry(kind).or_default() += 1;
                }
            } else if metadata.is_file() {
                let modified = metadata
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .unwrap_or_default();
                let relative = path.strip_prefix(folder).unwrap_or(&path).to_path_buf();
                scan.photos.push(Photo {
                    key: PhotoKey {
                        path: relative,
                        size: metadata.len(),
                        modified_secs: modified.as_secs() as i64,
                        modified_nanos: modified.subsec_nanos(),
                    },
                    path,
                });
            }
        }
    }
    scan.photos.sort_by(|a, b| a.key.path.cmp(&b.key.path));
    Ok(scan)
}

/// An 8-bit RGB photo, row-major.
#[derive(Debug, Clone)]
pub struct RgbPhoto {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<[u8; 3]>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoError(pub String);

impl fmt::Display for PhotoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PhotoError {}

/// Decodes a JPEG, PNG, WebP or TIFF photo and shrinks it so its short side is at most
/// `max_short_side`. Photos over `MAX_PHOTO_PIXELS` are refused from their header alone.
pub fn load_photo(path: &Path, max_short_side: u32) -> Result<RgbPhoto, PhotoError> {
    decode_photo(path, max_short_side, false)
}

/// `load_photo` for a library's photos: also refuses, with the reason, photos that cannot
/// colour anything (smaller than `MIN_PHOTO_SIDE`, fully transparent, or without colour), so
/// retrieval never picks them.
pub fn load_library_photo(path: &Path, max_short_side: u32) -> Result<RgbPhoto, PhotoError> {
    decode_photo(path, max_short_side, true)
}

fn decode_photo(
    path: &Path,
    max_short_side: u32,
    refuse_useless: bool,
) -> Result<RgbPhoto, PhotoError> {
    let open = || {
        image::ImageReader::open(path)
            .and_then(|r| r.with_guessed_format())
            .map_err(|e| PhotoError(format!("cannot open: {e}")))
    };
    let (width, height) = open()?
        .into_dimensions()
        .map_err(|e| PhotoError(format!("not a readable image: {e}")))?;
    if width as u64 * height as u64 > MAX_PHOTO_PIXELS {
        return Err(PhotoError(format!(
            "{width}x{height} is larger than the {} megapixels a reference may have; shrink it",
            MAX_PHOTO_PIXELS / 1_000_000
        )));
    }
    let mut reader = open()?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_PHOTO_PIXELS * 8);
    reader.limits(limits);
    let decoded = reader
        .decode()
        .map_err(|e| PhotoError(format!("cannot decode: {e}")))?;
    if refuse_useless {
        refuse_degenerate(&decoded)?;
    }
    let short = width.min(height);
    let decoded = if short > max_short_side {
        let scale = max_short_side as f64 / short as f64;
        decoded.resize_exact(
            ((width as f64 * scale).round() as u32).max(1),
            ((height as f64 * scale).round() as u32).max(1),
            image::imageops::FilterType::Triangle,
        )
    } else {
        decoded
    };
    let rgb = decoded.to_rgb8();
    Ok(RgbPhoto {
        width: rgb.width() as usize,
        height: rgb.height() as usize,
        pixels: rgb.pixels().map(|p| p.0).collect(),
    })
}

/// Chroma (max − min of R, G, B) below which a pixel counts as grey: JPEG noise in a grey photo.
const GREY_CHROMA: u8 = 3;

fn refuse_degenerate(image: &image::DynamicImage) -> Result<(), PhotoError> {
    let (width, height) = (image.width(), image.height());
    if width < MIN_PHOTO_SIDE || height < MIN_PHOTO_SIDE {
        return Err(PhotoError(format!(
            "{width}x{height} is too small to match a frame; a reference needs at least \
             {MIN_PHOTO_SIDE}x{MIN_PHOTO_SIDE} pixels"
        )));
    }
    // Decoders mostly give 8-bit RGB or RGBA: read those in place rather than copy the whole
    // full-size photo once more before it is shrunk.
    if image.color().has_alpha() {
        let rgba = image
            .as_rgba8()
            .map_or_else(|| Cow::Owned(image.to_rgba8()), Cow::Borrowed);
        if rgba.pixels().all(|p| p.0[3] == 0) {
            return Err(PhotoError(
                "it is fully transparent: there is no colour to take".into(),
            ));
        }
    }
    let rgb = image
        .as_rgb8()
        .map_or_else(|| Cow::Owned(image.to_rgb8()), Cow::Borrowed);
    if rgb.pixels().all(|p| {
        let [r, g, b] = p.0;
        r.max(g).max(b) - r.min(g).min(b) < GREY_CHROMA
    }) {
        return Err(PhotoError(
            "it has no colour (every pixel is grey): it would leave scenes grey".into(),
        ));
    }
    Ok(())
}

/// Where a library's index lives unless the user names a place: in the per-user cache folder
/// (`$XDG_CACHE_HOME`, else `~/.cache`), `gst-exemplar/indexes/`, under a name made of the
/// SHA-256 of the library's absolute path and its folder name, so a library kept read-only or
/// under fixity checks is never written to and each library keeps its own index.
pub fn default_index_path(library: &Path) -> PathBuf {
    use sha2::{Digest, Sha256};
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .map(|home| home.join(".cache"))
        });
    let Some(cache) = cache else {
        return library.join(INDEX_FILE_NAME);
    };
    let absolute = std::fs::canonicalize(library).unwrap_or_else(|_| library.to_path_buf());
    let digest = Sha256::digest(absolute.as_os_str().as_encoded_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let name: String = absolute
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    cache
        .join("gst-exemplar/indexes")
        .join(format!("{hex}-{name}.index"))
}

/// Reads an index file; `Ok(None)` when there is none yet.
pub fn read_index(path: &Path) -> Result<Option<Index>, IndexError> {
    match std::fs::read(path) {
        Ok(bytes) => Index::from_bytes(&bytes).map(Some),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(IndexError::Unreadable(err.to_string())),
    }
}

/// Writes the index through a temporary file renamed into place, so a crash or a concurrent
/// reader never sees half a file; missing parent folders are created.
pub fn write_index(path: &Path, index: &Index) -> std::io::Result<()> {
    write_atomically(path, &index.to_bytes())
}

/// Writes a file through a temporary one beside it, renamed into place: readers see the old
/// file or the whole new one, never a part. Missing parent folders are created.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let folder = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "unnamed".to_string());
    let temporary = folder.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

/// What an update did.
#[derive(Debug, Default)]
pub struct UpdateReport {
    /// Photos embedded now.
    pub embedded: usize,
    /// Photos whose embedding came from the previous index.
    pub reused: usize,
    /// Photos left out, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
}

/// Brings `previous` up to date with `photos`: entries of unchanged photos are kept, new and
/// changed photos are described with `describe`, vanished ones are dropped. An index made by
/// another model (other hash or dimensions) contributes nothing. `progress(index, done,
/// total)` follows the work with the index so far, which a caller may save as it goes: given
/// back as `previous`, a saved part spares its photos the work (an interrupted indexing
/// resumes).
pub fn update_index(
    previous: Option<&Index>,
    photos: &[Photo],
    empty: Index,
    mut describe: impl FnMut(&Photo) -> Result<Descriptor, PhotoError>,
    mut progress: impl FnMut(&Index, usize, usize),
) -> (Index, UpdateReport) {
    let mut index = empty;
    let previous = previous.filter(|p| {
        p.model_hash() == index.model_hash()
            && p.dimension() == index.dimension()
            && p.local_dimension() == index.local_dimension()
    });
    let mut report = UpdateReport::default();
    for (done, photo) in photos.iter().enumerate() {
        if let Some((old, entry)) = previous.and_then(|p| Some((p, p.position(&photo.key)?))) {
            index.push(photo.key.clone(), &old.descriptor(entry));
            report.reused += 1;
        } else {
            match describe(photo) {
                Ok(descriptor) if index.fits(&descriptor) => {
                    index.push(photo.key.clone(), &descriptor);
                    report.embedded += 1;
                }
                Ok(descriptor) => report.skipped.push((
                    photo.path.clone(),
                    format!(
                        "its descriptor ({} values, {} local cells of {}) does not fit the index \
                         ({} values, local width {})",
                        descriptor.global.len(),
                        descriptor.local.cells(),
                        descriptor.local.dimension(),
                        index.dimension(),
                        index.local_dimension()
                    ),
                )),
                Err(err) => report.skipped.push((photo.path.clone(), err.0)),
            }
        }
        progress(&index, done + 1, photos.len());
    }
    (index, report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::colorize::descriptor::LocalFeatures;

    fn global(embedding: &[f32]) -> Descriptor {
        Descriptor {
            global: embedding.to_vec(),
            local: LocalFeatures::empty(0),
        }
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("gstexemplar-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn write_png(path: &Path, width: u32, height: u32, colour: [u8; 3]) {
        image::RgbImage::from_pixel(width, height, image::Rgb(colour))
            .save(path)
            .unwrap();
    }

    #[test]
    fn scans_recursively_and_skips_hidden_and_non_photos() {
        let dir = temp_dir("scan");
        std::fs::create_dir_all(dir.join("sub/deeper")).unwrap();
        write_png(&dir.join("b.png"), 4, 4, [1, 2, 3]);
        write_png(&dir.join("sub/deeper/a.PNG"), 4, 4, [1, 2, 3]);
        std::fs::write(dir.join("notes.txt"), "x").unwrap();
        std::fs::write(dir.join(INDEX_FILE_NAME), "x").unwrap();
        std::fs::create_dir_all(dir.join(".hidden")).unwrap();
        write_png(&dir.join(".hidden/c.png"), 4, 4, [1, 2, 3]);
        let scan = scan(&dir).unwrap();
        let names: Vec<_> = scan.photos.iter().map(|p| p.key.path.clone()).collect();
        assert_eq!(
            names,
            vec![PathBuf::from("b.png"), PathBuf::from("sub/deeper/a.PNG")]
        );
        assert!(super::scan(&dir.join("missing")).is_err());
    }

    #[test]
    fn decodes_and_shrinks_photos() {
        let dir = temp_dir("decode");
        write_png(&dir.join("wide.png"), 400, 100, [200, 10, 10]);
        let photo = load_photo(&dir.join("wide.png"), 50).unwrap();
        assert_eq!((photo.width, photo.height), (200, 50));
        assert_eq!(photo.pixels[0], [200, 10, 10]);
        std::fs::write(dir.join("broken.jpg"), b"\xff\xd8\xff\xe0 not really").unwrap();
        assert!(load_photo(&dir.join("broken.jpg"), 50).is_err());
    }

    #[test]
    fn updates_only_what_changed() {
        let dir = temp_dir("update");
        write_png(&dir.join("a.png"), 4, 4, [255, 0, 0]);
        write_png(&dir.join("b.png"), 4, 4, [0, 255, 0]);
        let calls = std::cell::RefCell::new(Vec::new());
        let embed = |photo: &Photo| {
            calls.borrow_mut().push(photo.key.path.clone());
            Ok(global(&[1.0, photo.key.size as f32]))
        };
        let photos = scan(&dir).unwrap().photos;
        let (first, report) = update_index(
            None,
            &photos,
            Index::new([1; 32], 2, 0),
            embed,
            |_, _, _| {},
        );
        assert_eq!((report.embedded, report.reused), (2, 0));
        let index_path = dir.join(INDEX_FILE_NAME);
        write_index(&index_path, &first).unwrap();
        let stored = read_index(&index_path).unwrap().unwrap();
        assert_eq!(stored, first);

        write_png(&dir.join("c.png"), 4, 4, [0, 0, 255]);
        std::fs::remove_file(dir.join("a.png")).unwrap();
        let photos = scan(&dir).unwrap().photos;
        calls.borrow_mut().clear();
        let (second, report) = update_index(
            Some(&stored),
            &photos,
            Index::new([1; 32], 2, 0),
            embed,
            |_, _, _| {},
        );
        assert_eq!((report.embedded, report.reused), (1, 1));
        assert_eq!(*calls.borrow(), vec![PathBuf::from("c.png")]);
        assert_eq!(second.len(), 2);

        // Another model: everything is embedded again.
        calls.borrow_mut().clear();
        let (_, report) = update_index(
            Some(&second),
            &photos,
            Index::new([2; 32], 2, 0),
            embed,
            |_, _, _| {},
        );
        assert_eq!((report.embedded, report.reused), (2, 0));
    }

    #[test]
    fn an_index_saved_part_way_resumes_where_it_stopped() {
        let dir = temp_dir("resume");
        for (name, green) in [("a.png", 0), ("b.png", 100), ("c.png", 200)] {
            write_png(&dir.join(name), 4, 4, [255, green, 0]);
        }
        let photos = scan(&dir).unwrap().photos;
        let embed = |photo: &Photo| Ok(global(&[1.0, photo.key.size as f32]));
        // Saved after the second photo, as the element does every few seconds.
        let mut saved = None;
        update_index(
            None,
            &photos,
            Index::new([1; 32], 2, 0),
            embed,
            |index, done, _| {
                if done == 2 {
                    saved = Some(index.clone());
                }
            },
        );
        let saved = saved.unwrap();
        assert_eq!(saved.len(), 2);
        let (index, report) = update_index(
            Some(&saved),
            &photos,
            Index::new([1; 32], 2, 0),
            embed,
            |_, _, _| {},
        );
        assert_eq!((report.embedded, report.reused, index.len()), (1, 2, 3));
    }

    #[test]
    fn skips_photos_that_fail_and_reports_progress() {
        let photos: Vec<Photo> = ["ok.png", "bad.jpg"]
            .iter()
            .map(|name| Photo {
                path: PathBuf::from(name),
                key: PhotoKey {
                    path: PathBuf::from(name),
                    size: 1,
                    modified_secs: 0,
                    modified_nanos: 0,
                },
            })
            .collect();
        let mut seen = Vec::new();
        let (index, report) = update_index(
            None,
            &photos,
            Index::new([0; 32], 1, 0),
            |p| {
                if p.key.path == Path::new("bad.jpg") {
                    Err(PhotoError("cannot decode: truncated".into()))
                } else {
                    Ok(global(&[1.0]))
                }
            },
            |index, done, total| seen.push((index.len(), done, total)),
        );
        assert_eq!(index.len(), 1);
        assert_eq!(
            report.skipped,
            vec![(
                PathBuf::from("bad.jpg"),
                "cannot decode: truncated".to_string()
            )]
        );
        assert_eq!(seen, vec![(1, 1, 2), (1, 2, 2)]);
    }

    #[test]
    fn a_missing_index_is_none_and_garbage_is_an_error() {
        let dir = temp_dir("readindex");
        assert_eq!(read_index(&dir.join("none")), Ok(None));
        std::fs::write(dir.join("garbage"), b"random bytes").unwrap();
        assert_eq!(
            read_index(&dir.join("garbage")),
            Err(IndexError::NotAnIndex)
        );
    }

    #[test]
    fn reads_tiff_and_counts_the_image_files_it_cannot_read() {
        let dir = temp_dir("kinds");
        write_png(&dir.join("a.png"), 4, 4, [1, 2, 3]);
        image::RgbImage::from_pixel(32, 24, image::Rgb([200, 40, 10]))
            .save(dir.join("scan.tif"))
            .unwrap();
        for name in ["x.heic", "y.HEIC", "z.gif", "notes.txt", "sidecar.xmp"] {
            std::fs::write(dir.join(name), "x").unwrap();
        }
        let scan = scan(&dir).unwrap();
        let names: Vec<_> = scan.photos.iter().map(|p| p.key.path.clone()).collect();
        assert_eq!(
            names,
            vec![PathBuf::from("a.png"), PathBuf::from("scan.tif")]
        );
        assert_eq!(
            scan.unsupported_summary().as_deref(),
            Some("1 .gif, 2 .heic")
        );
        let tiff = load_library_photo(&dir.join("scan.tif"), 720).unwrap();
        assert_eq!(
            (tiff.width, tiff.height, tiff.pixels[0]),
            (32, 24, [200, 40, 10])
        );
    }

    #[cfg(unix)]
    #[test]
    fn folder_links_are_followed_once_and_loops_end() {
        let dir = temp_dir("loops");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        write_png(&dir.join("top.png"), 4, 4, [1, 2, 3]);
        write_png(&dir.join("sub/inner.png"), 4, 4, [1, 2, 3]);
        std::os::unix::fs::symlink("..", dir.join("sub/up")).unwrap();
        std::os::unix::fs::symlink(".", dir.join("self")).unwrap();
        let scan = scan(&dir).unwrap();
        let names: Vec<_> = scan.photos.iter().map(|p| p.key.path.clone()).collect();
        assert_eq!(
            names,
            vec![PathBuf::from("sub/inner.png"), PathBuf::from("top.png")]
        );
        let mut revisited = scan.revisited_folders.clone();
        revisited.sort();
        assert_eq!(revisited, vec![dir.join("self"), dir.join("sub/up")]);
    }

    #[test]
    fn photos_that_cannot_colour_anything_are_refused_from_the_library() {
        let dir = temp_dir("degenerate");
        write_png(&dir.join("tiny.png"), 1, 1, [200, 10, 10]);
        write_png(&dir.join("grey.png"), 64, 48, [120, 120, 120]);
        image::RgbaImage::from_pixel(64, 48, image::Rgba([200, 10, 10, 0]))
            .save(dir.join("clear.png"))
            .unwrap();
        let why = |name: &str| load_library_photo(&dir.join(name), 720).unwrap_err().0;
        assert!(
            why("tiny.png").contains("1x1 is too small"),
            "{}",
            why("tiny.png")
        );
        assert!(
            why("grey.png").contains("has no colour"),
            "{}",
            why("grey.png")
        );
        assert!(
            why("clear.png").contains("fully transparent"),
            "{}",
            why("clear.png")
        );
        // A fixed reference is the user's explicit choice: only the library refuses these.
        assert!(load_photo(&dir.join("grey.png"), 720).is_ok());
    }

    #[test]
    fn each_library_gets_its_own_index_in_the_cache_and_folders_are_made() {
        let dir = temp_dir("default-index");
        std::fs::create_dir_all(dir.join("a/photos")).unwrap();
        std::fs::create_dir_all(dir.join("b/photos")).unwrap();
        let a = default_index_path(&dir.join("a/photos"));
        let b = default_index_path(&dir.join("b/photos"));
        assert_ne!(a, b);
        assert_eq!(a, default_index_path(&dir.join("a/../a/photos")));
        assert!(!a.starts_with(&dir), "{}", a.display());
        assert!(a.to_string_lossy().contains("gst-exemplar/indexes/"));
        assert!(a
            .file_name()
            .unwrap()
            .to_string_lossy()
            .ends_with("-photos.index"));
        let nested = dir.join("new/deeper/library.index");
        write_index(&nested, &Index::new([0; 32], 1, 0)).unwrap();
        assert_eq!(read_index(&nested).unwrap().unwrap().len(), 0);
    }
}
