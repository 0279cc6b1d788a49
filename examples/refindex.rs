// SPDX-License-Identifier: MIT OR Apache-2.0

//! Builds or updates the retrieval index of a reference library ahead of time, and tells which
//! reference `exemplarcolorize` would pick for an image.
//!
//!     cargo run --release --example refindex -- build photos/ [--index FILE]
//!     cargo run --release --example refindex -- query photos/ frame.png [more.jpg ...] [--index FILE]
//!
//! Models come from the same places as the element's defaults (EXEMPLAR_MODEL_DIR, ...);
//! `--models DIR` overrides. The index file is the element's, so a library indexed here is
//! ready when the pipeline starts.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use gstexemplar::colorize::index::Index;
use gstexemplar::colorize::inference::{self, Models, Provider, SessionOptions};
use gstexemplar::colorize::library;
use gstexemplar::colorize::retrieval;

/// Builds or updates a reference library's retrieval index ahead of time, or tells which photo
/// `exemplarcolorize` would pick for an image.
#[derive(clap::Parser)]
struct Options {
    #[command(subcommand)]
    command: Command,
    /// The index file (default: the element's, in the per-user cache)
    #[arg(long, global = true)]
    index: Option<PathBuf>,
    /// Folder of the ONNX models (default: the element's)
    #[arg(long, global = true)]
    models: Option<PathBuf>,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Index every photo of the folder (only new or changed ones when an index exists)
    Build {
        /// Folder of colour reference photos
        refs: PathBuf,
    },
    /// Update the index, then print the best photo for each image, with its score and runner-up
    Query {
        /// Folder of colour reference photos
        refs: PathBuf,
        /// Images to look up (frames or photos)
        #[arg(required = true)]
        images: Vec<PathBuf>,
    },
}

fn load_models(dir: Option<&Path>) -> Result<Models, String> {
    let dir = match dir {
        Some(dir) => dir.to_path_buf(),
        None => inference::default_model_dir().map_err(|e| format!("{e}; or pass --models DIR"))?,
    };
    Models::load(
        &dir.join(inference::ENCODER_FILE),
        &dir.join(inference::COLORIZER_FILE),
        &dir.join(inference::REFERENCE_FILE),
        &SessionOptions {
            provider: Provider::Auto,
            device_id: 0,
            strict: false,
            threads: 0,
        },
    )
    .map_err(|e| e.to_string())
}

/// Brings the index up to date and saves it; returns it.
fn build(models: &mut Models, refs: &Path, index_path: &Path) -> Result<Index, String> {
    let scan = library::scan(refs).map_err(|e| format!("cannot read {}: {e}", refs.display()))?;
    for (path, why) in &scan.unreadable {
        eprintln!("warning: skipping {}: {why}", path.display());
    }
    if scan.photos.is_empty() {
        return Err(format!(
            "{} has no JPEG, PNG, WebP or TIFF photos",
            refs.display()
        ));
    }
    let previous = library::read_index(index_path).unwrap_or_else(|err| {
        eprintln!("warning: rebuilding {}: {err}", index_path.display());
        None
    });
    let started = Instant::now();
    let (index, report) = library::update_index(
        previous.as_ref(),
        &scan.photos,
        models.empty_index(),
        |photo| retrieval::describe_photo(models, &photo.path),
        |_, done, total| eprint!("\rindexing: {done}/{total}"),
    );
    eprintln!();
    let seconds = started.elapsed().as_secs_f64();
    for (path, why) in &report.skipped {
        eprintln!("warning: skipped {}: {why}", path.display());
    }
    library::write_index(index_path, &index)
        .map_err(|e| format!("cannot write {}: {e}", index_path.display()))?;
    println!(
        "{}: {} photos ({} embedded in {seconds:.2} s, {:.1} photos/s; {} unchanged; {} skipped)",
        index_path.display(),
        index.len(),
        report.embedded,
        report.embedded as f64 / seconds.max(1e-9),
        report.reused,
        report.skipped.len()
    );
    Ok(index)
}

fn run(options: Options) -> Result<(), String> {
    let (refs, images) = match &options.command {
        Command::Build { refs } => (refs, &[][..]),
        Command::Query { refs, images } => (refs, &images[..]),
    };
    let index_path = options
        .index
        .clone()
        .unwrap_or_else(|| library::default_index_path(refs));
    let mut models = load_models(options.models.as_deref())?;
    let index = build(&mut models, refs, &index_path)?;
    for image in images {
        let photo = library::load_photo(image, retrieval::PHOTO_SHORT_SIDE)
            .map_err(|e| format!("{}: {e}", image.display()))?;
        let lightness = retrieval::photo_lightness(&photo);
        let frame = retrieval::describe_frame(
            &mut models,
            &lightness,
            photo.width,
            photo.height,
            retrieval::DEFAULT_CANDIDATES,
        )
        .map_err(|e| format!("{}: {e}", image.display()))?;
        let ranked = retrieval::rank(&index, &frame, retrieval::DEFAULT_CANDIDATES);
        let best = ranked.first().ok_or("the index does not fit the encoder")?;
        println!(
            "{} -> {} (score {:.4}, similarity {:.4}{})",
            image.display(),
            refs.join(&index.key(best.entry).path).display(),
            best.score,
            best.similarity,
            ranked.get(1).map_or(String::new(), |second| format!(
                "; runner-up {} at {:.4}",
                refs.join(&index.key(second.entry).path).display(),
                second.score
            ))
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(<Options as clap::Parser>::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
