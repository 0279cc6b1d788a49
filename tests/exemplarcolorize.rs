// SPDX-License-Identifier: MIT OR Apache-2.0

//! Behaviour of the `exemplarcolorize` element: the used-by pipeline on the project's real-photo
//! clip, colour quality, the reference index, configuration errors, formats. Needs the generated
//! media and models (`bash scripts/test.sh` makes them).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use gst::prelude::*;
use gst_check::Harness;
use gstexemplar::colorize::index::Index;
use gstexemplar::colorize::library;
use gstexemplar::colorize::plan::Plan;
use gstexemplar::exemplarcolorize::{ColourInput, Overlap, ReferenceChanged, Render};
use gstexemplar::scene_change::{SceneChange, SceneChangeKind};

mod common;
use common::*;

fn reference_changes(messages: &[gst::Message]) -> Vec<ReferenceChanged> {
    element_messages(messages, ReferenceChanged::NAME)
        .iter()
        .map(|s| ReferenceChanged::from_structure(s).unwrap())
        .collect()
}

fn file_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn the_used_by_pipeline_gives_each_scene_its_own_reference() {
    let (media, meta) = media();
    let refs = copy_refs("used-by");
    let output = refs.join("colour.mp4");
    let pipeline = launch(&format!(
        "filesrc location={} ! decodebin ! videoconvert ! scenecut ! exemplarcolorize refs={} ! \
         videoconvert ! x264enc ! mp4mux ! filesink location={}",
        media.join("scenes_grey.mp4").display(),
        refs.display(),
        output.display()
    ));
    let messages = run_to_end(&pipeline);
    assert!(has_eos(&messages), "{:?}", errors(&messages));
    let changes = reference_changes(&messages);
    let scenes = meta["scenes"].as_array().unwrap();
    assert_eq!(
        changes.len(),
        scenes.len(),
        "one reference-changed per scene"
    );
    let cuts: Vec<SceneChange> = element_messages(&messages, "scene-change")
        .iter()
        .map(|s| SceneChange::from_structure(s).unwrap())
        .collect();
    assert_eq!(cuts.len(), scenes.len());
    // One segment, starting at the first frame's timestamp (the MP4's edit list): running and
    // stream time count from there.
    let start = changes[0].pts.unwrap();
    for (change, cut) in changes.iter().zip(&cuts) {
        let since_start = change.pts.map(|pts| pts - start);
        assert!(change.changed);
        assert_eq!(
            (change.running_time, change.stream_time),
            (since_start, since_start)
        );
        assert_eq!(
            (cut.pts, cut.running_time, cut.stream_time),
            (change.pts, since_start, since_start)
        );
    }
    for (change, scene) in changes.iter().zip(scenes) {
        assert_eq!(change.frame, scene["first_frame"].as_u64().unwrap());
        assert_eq!(
            file_name(&change.reference),
            scene["reference"].as_str().unwrap(),
            "{change:?}"
        );
        assert!(change.distance > 0.0 && change.distance < 2.0);
    }
    assert_eq!(
        changes.iter().map(|c| c.scene).collect::<Vec<_>>(),
        (0..scenes.len() as u32).collect::<Vec<_>>()
    );
    assert!(std::fs::metadata(&output).unwrap().len() > 100_000);
    // The index was written to the per-user cache, not into the library, and covers every photo.
    assert!(!refs.join(".exemplar-index").exists());
    let index =
        Index::from_bytes(&std::fs::read(library::default_index_path(&refs)).unwrap()).unwrap();
    assert_eq!(
        index.len(),
        scenes.len() + meta["distractors"].as_array().unwrap().len()
    );
}

/// Mean PSNR over frames and a mean SSIM (8x8 windows, stride 4, per RGB channel).
fn psnr_ssim(frames: &[Vec<u8>], truth: &[u8], width: usize, height: usize) -> (f64, f64) {
    let frame_bytes = width * height * 3;
    let mut psnr = 0.0;
    let mut ssim = 0.0;
    for (i, frame) in frames.iter().enumerate() {
        let original = &truth[i * frame_bytes..(i + 1) * frame_bytes];
        let mse = frame
            .iter()
            .zip(original)
            .map(|(&a, &b)| (a as f64 - b as f64).powi(2))
            .sum::<f64>()
            / frame_bytes as f64;
        psnr += 10.0 * (255.0f64 * 255.0 / mse.max(1e-10)).log10();
        let (c1, c2) = ((0.01f64 * 255.0).powi(2), (0.03f64 * 255.0).powi(2));
        let mut total = 0.0;
        let mut windows = 0;
        for y in (0..height - 8).step_by(4) {
            for x in (0..width - 8).step_by(4) {
                for c in 0..3 {
                    let (mut sa, mut sb, mut saa, mut sbb, mut sab) = (0.0, 0.0, 0.0, 0.0, 0.0);
                    for dy in 0..8 {
                        for dx in 0..8 {
                            let k = ((y + dy) * width + x + dx) * 3 + c;
                            let (a, b) = (frame[k] as f64, original[k] as f64);
                            sa += a;
                            sb += b;
                            saa += a * a;
                            sbb += b * b;
                            sab += a * b;
                        }
                    }
                    let (ma, mb) = (sa / 64.0, sb / 64.0);
                    let (va, vb, cov) = (
                        saa / 64.0 - ma * ma,
                        sbb / 64.0 - mb * mb,
                        sab / 64.0 - ma * mb,
                    );
                    total += ((2.0 * ma * mb + c1) * (2.0 * cov + c2))
                        / ((ma * ma + mb * mb + c1) * (va + vb + c2));
                    windows += 1;
                }
            }
        }
        ssim += total / windows as f64;
    }
    (psnr / frames.len() as f64, ssim / frames.len() as f64)
}

/// Runs `launch` (ending in a sink named `out`), returning every buffer's bytes.
fn pull_frames(description: &str) -> Vec<Vec<u8>> {
    pull_frames_and_messages(description).0
}

/// `pull_frames`, with the messages the pipeline posted.
fn pull_frames_and_messages(description: &str) -> (Vec<Vec<u8>>, Vec<gst::Message>) {
    let pipeline = launch(description);
    let sink = pipeline.by_name("out").unwrap();
    let frames = Arc::new(Mutex::new(Vec::new()));
    let store = frames.clone();
    sink.static_pad("sink")
        .unwrap()
        .add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if let Some(gst::PadProbeData::Buffer(buffer)) = &info.data {
                store
                    .lock()
                    .unwrap()
                    .push(buffer.map_readable().unwrap().to_vec());
            }
            gst::PadProbeReturn::Ok
        });
    let messages = run_to_end(&pipeline);
    assert!(has_eos(&messages), "{:?}", errors(&messages));
    let frames = frames.lock().unwrap().clone();
    (frames, messages)
}

#[test]
fn colours_beat_grey_and_luma_is_kept_bit_exactly() {
    let (media, meta) = media();
    let refs = copy_refs("quality");
    let (width, height) = (
        meta["width"].as_u64().unwrap() as usize,
        meta["height"].as_u64().unwrap() as usize,
    );
    let grey_clip = media.join("scenes_grey.mp4");
    let truth = std::fs::read(media.join("scenes.rgb")).unwrap();

    let colour = pull_frames(&format!(
        "filesrc location={} ! decodebin ! videoconvert ! scenecut ! exemplarcolorize refs={} ! \
         video/x-raw,format=RGB ! fakesink name=out",
        grey_clip.display(),
        refs.display()
    ));
    let grey = pull_frames(&format!(
        "filesrc location={} ! decodebin ! videoconvert ! video/x-raw,format=RGB ! fakesink name=out",
        grey_clip.display()
    ));
    assert_eq!(colour.len(), meta["frames"].as_u64().unwrap() as usize);
    assert_eq!(grey.len(), colour.len());
    // RGB frames from these caps are tightly packed at 640 wide (stride 1920).
    let (colour_psnr, colour_ssim) = psnr_ssim(&colour, &truth, width, height);
    let (grey_psnr, grey_ssim) = psnr_ssim(&grey, &truth, width, height);
    println!("against the colour original: colorized {colour_psnr:.2} dB / SSIM {colour_ssim:.4}; grey {grey_psnr:.2} dB / SSIM {grey_ssim:.4}");
    assert!(
        colour_psnr > grey_psnr + 1.0,
        "{colour_psnr} vs {grey_psnr}"
    );
    assert!(colour_ssim > grey_ssim, "{colour_ssim} vs {grey_ssim}");

    // I420 in, I420 out: the luma plane leaves exactly as it came.
    let pipeline = launch(&format!(
        "filesrc location={} ! decodebin ! videoconvert ! video/x-raw,format=I420 ! scenecut ! \
         exemplarcolorize name=colorize refs={} ! video/x-raw,format=I420 ! fakesink name=out",
        grey_clip.display(),
        refs.display()
    ));
    let colorize = pipeline.by_name("colorize").unwrap();
    let lumas = Arc::new(Mutex::new((Vec::new(), Vec::new())));
    for (pad, input) in [("sink", true), ("src", false)] {
        let store = lumas.clone();
        colorize
            .static_pad(pad)
            .unwrap()
            .add_probe(gst::PadProbeType::BUFFER, move |_, info| {
                if let Some(gst::PadProbeData::Buffer(buffer)) = &info.data {
                    let luma = buffer.map_readable().unwrap()[..640 * 360].to_vec();
                    let mut lumas = store.lock().unwrap();
                    if input {
                        lumas.0.push(luma)
                    } else {
                        lumas.1.push(luma)
                    }
                }
                gst::PadProbeReturn::Ok
            });
    }
    let messages = run_to_end(&pipeline);
    assert!(has_eos(&messages));
    let lumas = lumas.lock().unwrap();
    assert_eq!(lumas.0.len(), 238);
    assert!(lumas.0 == lumas.1, "output luma differs from input luma");
}

fn start_once(refs: &Path, extra: &str) -> Vec<gst::Message> {
    let pipeline = launch(&format!(
        "videotestsrc num-buffers=2 ! video/x-raw,format=GRAY8,width=64,height=48 ! \
         exemplarcolorize refs={} {extra} ! fakesink",
        refs.display()
    ));
    run_to_end(&pipeline)
}

fn read_index(path: &Path) -> Index {
    Index::from_bytes(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn index_updates_incrementally() {
    let refs = copy_refs("incremental");
    let new_photo = refs.join("flower.jpg");
    let held_back = refs
        .parent()
        .unwrap()
        .join(format!("held-back-{}.jpg", std::process::id()));
    std::fs::rename(&new_photo, &held_back).unwrap();
    let messages = start_once(&refs, "");
    assert!(has_eos(&messages), "{:?}", errors(&messages));
    let index_path = library::default_index_path(&refs);
    let first = read_index(&index_path);
    assert_eq!(first.len(), 8);

    // Mark one stored embedding: if the update re-embedded that photo, the mark would be gone.
    let mut marked = Index::new(
        *first.model_hash(),
        first.dimension(),
        first.local_dimension(),
    );
    let mut mark = vec![0.0f32; first.dimension()];
    mark[7] = 1.0;
    for entry in 0..first.len() {
        let mut descriptor = first.descriptor(entry);
        if entry == 0 {
            descriptor.global = mark.clone();
        }
        marked.push(first.key(entry).clone(), &descriptor);
    }
    std::fs::write(&index_path, marked.to_bytes()).unwrap();
    std::fs::rename(&held_back, &new_photo).unwrap();

    let messages = start_once(&refs, "");
    assert!(has_eos(&messages));
    let second = read_index(&index_path);
    assert_eq!(second.len(), 9);
    assert_eq!(
        second.embedding(0),
        &mark[..],
        "unchanged photos are not embedded again"
    );
    let flower = (0..second.len())
        .find(|&e| second.key(e).path == Path::new("flower.jpg"))
        .unwrap();
    assert!((second.embedding(flower).iter().map(|v| v * v).sum::<f32>() - 1.0).abs() < 1e-4);
}

#[test]
fn a_corrupt_index_is_rebuilt_with_a_warning() {
    let refs = copy_refs("corrupt");
    let index_path = library::default_index_path(&refs);
    std::fs::create_dir_all(index_path.parent().unwrap()).unwrap();
    std::fs::write(&index_path, b"GSTEXIDX\x01\x00\x00\x00 then garbage").unwrap();
    let messages = start_once(&refs, "");
    assert!(has_eos(&messages), "{:?}", errors(&messages));
    let warned = warnings(&messages);
    assert!(
        mentions(
            &warned,
            &[
                "Rebuilding the reference index",
                &index_path.to_string_lossy()
            ]
        ),
        "{warned:?}"
    );
    assert_eq!(read_index(&index_path).len(), 9);

    std::fs::write(
        &index_path,
        (0..5000u32)
            .map(|i| (i * 7919 % 251) as u8)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let messages = start_once(&refs, "");
    assert!(has_eos(&messages));
    assert!(mentions(
        &warnings(&messages),
        &["not a gst-exemplar index file"]
    ));
    assert_eq!(read_index(&index_path).len(), 9);
}

#[test]
fn an_index_from_another_model_is_rebuilt() {
    let refs = copy_refs("other-model");
    let index_path = library::default_index_path(&refs);
    assert!(has_eos(&start_once(&refs, "")));
    let original = read_index(&index_path);
    let mut foreign = Index::new([0xab; 32], original.dimension(), original.local_dimension());
    for entry in 0..original.len() {
        foreign.push(original.key(entry).clone(), &original.descriptor(entry));
    }
    std::fs::write(&index_path, foreign.to_bytes()).unwrap();
    let messages = start_once(&refs, "");
    assert!(
        mentions(&warnings(&messages), &["another encoder model"]),
        "{:?}",
        warnings(&messages)
    );
    assert_eq!(read_index(&index_path).model_hash(), original.model_hash());
}

#[test]
fn unreadable_photos_are_skipped_with_a_warning_naming_them() {
    let refs = copy_refs("unreadable");
    let bytes = std::fs::read(refs.join("coffee.jpg")).unwrap();
    std::fs::write(refs.join("truncated.jpg"), &bytes[..bytes.len() / 3]).unwrap();
    std::fs::write(refs.join("not-a-photo.png"), b"plain text").unwrap();
    let messages = start_once(&refs, "");
    assert!(has_eos(&messages), "{:?}", errors(&messages));
    let warned = warnings(&messages);
    assert!(mentions(&warned, &["not-a-photo.png"]), "{warned:?}");
    // A JPEG cut short may still decode (the decoder fills the rest); if it does not, it is
    // skipped with a warning like the text file. Either way the index holds what decoded.
    let truncated_skipped = mentions(&warned, &["truncated.jpg"]);
    println!("truncated JPEG skipped: {truncated_skipped}");
    assert_eq!(
        read_index(&library::default_index_path(&refs)).len(),
        9 + usize::from(!truncated_skipped)
    );
}

#[test]
fn an_empty_or_missing_refs_folder_is_a_clear_error() {
    let empty = temp_dir("empty-refs");
    std::fs::write(empty.join("readme.txt"), "no photos here").unwrap();
    let errors_empty = errors(&start_once(&empty, ""));
    assert!(
        mentions(&errors_empty, &["has no photos", "empty-refs"]),
        "{errors_empty:?}"
    );
    let missing = empty.join("does-not-exist");
    let errors_missing = errors(&start_once(&missing, ""));
    assert!(
        mentions(
            &errors_missing,
            &["Cannot read the refs folder", "does-not-exist"]
        ),
        "{errors_missing:?}"
    );
}

#[cfg(unix)]
#[test]
fn photos_with_non_utf8_names_are_indexed_and_chosen() {
    use std::os::unix::ffi::OsStrExt;
    let (media, _) = media();
    let refs = temp_dir("non-utf8");
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9.jpg");
    std::fs::copy(media.join("refs/coffee.jpg"), refs.join(name)).unwrap();
    let messages = start_once(&refs, "");
    assert!(has_eos(&messages), "{:?}", errors(&messages));
    let changes = reference_changes(&messages);
    assert_eq!(changes.len(), 1);
    assert!(
        changes[0].reference.contains("caf"),
        "{}",
        changes[0].reference
    );
    assert_eq!(
        read_index(&library::default_index_path(&refs))
            .key(0)
            .path
            .as_os_str(),
        name
    );
}

/// The error an element with this encoder model posts when it fails to reach READY.
fn error_at_ready(encoder_model: &str) -> String {
    init();
    let element = gst::ElementFactory::make("exemplarcolorize")
        .property("encoder-model", encoder_model)
        .build()
        .unwrap();
    refused_state_change(&element, gst::State::Ready)
        .into_iter()
        .next()
        .expect("an error message")
}

#[test]
fn model_properties_changed_in_ready_take_effect_at_the_next_start() {
    init();
    let (media, _) = media();
    let models = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("generated/models");
    let element = gst::ElementFactory::make("exemplarcolorize")
        .property("reference", media.join("refs/coffee.jpg").to_str().unwrap())
        .build()
        .unwrap();
    let sink = gst::ElementFactory::make("fakesink").build().unwrap();
    let pipeline = gst::Pipeline::new();
    pipeline.add_many([&element, &sink]).unwrap();
    element.link(&sink).unwrap();
    assert!(pipeline.set_state(gst::State::Ready).is_ok());
    // A misfit encoder set in READY is loaded, and refused, when the element starts.
    element.set_property(
        "encoder-model",
        models.join("colorizer.onnx").to_str().unwrap(),
    );
    let failed = refused_state_change(pipeline.upcast_ref(), gst::State::Paused);
    assert!(
        mentions(&failed, &["does not fit the encoder contract"]),
        "{failed:?}"
    );
    // Set right again, the next start loads it.
    let _ = pipeline.set_state(gst::State::Ready);
    element.set_property(
        "encoder-model",
        models.join("encoder.onnx").to_str().unwrap(),
    );
    assert!(pipeline.set_state(gst::State::Paused).is_ok());
    pipeline.set_state(gst::State::Null).unwrap();
}

#[test]
fn missing_or_misfit_models_fail_at_ready_naming_the_file() {
    let message = error_at_ready("/nonexistent/encoder.onnx");
    assert!(
        message.contains("/nonexistent/encoder.onnx") && message.contains("does not exist"),
        "{message}"
    );
    let models = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("generated/models");
    let message = error_at_ready(models.join("colorizer.onnx").to_str().unwrap());
    assert!(
        message.contains("does not fit the encoder contract")
            && message.contains("image (rank 4)")
            && message.contains("target_l"),
        "{message}"
    );
}

#[test]
fn an_unavailable_gpu_provider_falls_back_or_fails_when_strict() {
    let refs = copy_refs("provider");
    let messages = start_once(&refs, "execution-provider=cuda");
    assert!(has_eos(&messages), "{:?}", errors(&messages));
    assert!(
        mentions(&warnings(&messages), &["Running on CPU instead of Cuda"]),
        "{:?}",
        warnings(&messages)
    );
    let messages = start_once(&refs, "execution-provider=tensorrt strict-provider=true");
    let errors = errors(&messages);
    // A CPU-only build says it lacks TensorRT; a GPU build says the provider failed to start.
    assert!(
        errors.iter().any(|e| e.to_lowercase().contains("tensorrt")),
        "{errors:?}"
    );
}

#[test]
fn every_output_format_and_odd_sizes() {
    let (media, _) = media();
    for (format, size) in [
        ("I420", (157, 91)),
        ("NV12", (64, 48)),
        ("Y444", (63, 47)),
        ("RGBA", (64, 48)),
        ("RGBx", (33, 17)),
        ("BGRx", (64, 48)),
        ("RGB", (31, 9)),
    ] {
        let pipeline = launch(&format!(
            "videotestsrc num-buffers=3 pattern=ball ! video/x-raw,format=GRAY8,width={},height={} ! \
             exemplarcolorize reference={} ! video/x-raw,format={format} ! fakesink name=out",
            size.0,
            size.1,
            media.join("refs/chelsea.jpg").display()
        ));
        let messages = run_to_end(&pipeline);
        assert!(has_eos(&messages), "{format}: {:?}", errors(&messages));
    }
}

#[test]
fn the_unused_byte_of_padded_rgb_is_written() {
    let (media, _) = media();
    for format in ["RGBx", "BGRx"] {
        let (mut h, _) = fixed_reference_harness(
            &media.join("refs/china.jpg"),
            "video/x-raw,format=GRAY8,width=32,height=24,framerate=25/1",
            &format!("video/x-raw,format={format},width=32,height=24,framerate=25/1"),
        );
        h.push(gst::Buffer::from_slice(vec![90u8; 32 * 24]))
            .unwrap();
        let out = h.pull().unwrap();
        let data = out.map_readable().unwrap();
        assert_eq!(data.len(), 32 * 24 * 4);
        assert!(
            data.chunks_exact(4).all(|pixel| pixel[3] == 255),
            "{format}: {:?}",
            &data[..8]
        );
    }
}

#[test]
fn harness_keeps_timestamps_and_follows_scene_change_events() {
    init();
    let (media, _) = media();
    let element = gst::ElementFactory::make("exemplarcolorize")
        .property("reference", media.join("refs/rocket.jpg").to_str().unwrap())
        .build()
        .unwrap();
    let bus = gst::Bus::new();
    element.set_bus(Some(&bus));
    let mut h = Harness::with_element(&element, Some("sink"), Some("src"));
    h.set_src_caps_str("video/x-raw,format=GRAY8,width=32,height=24,framerate=25/1");
    h.set_upstream_latency(gst::ClockTime::from_mseconds(10));
    assert_eq!(
        h.query_latency(),
        Some(gst::ClockTime::from_mseconds(10 + 150))
    );
    element.set_property("processing-latency", 40u32);
    assert_eq!(
        h.query_latency(),
        Some(gst::ClockTime::from_mseconds(10 + 40))
    );
    h.set_sink_caps_str("video/x-raw,format=I420,width=32,height=24,framerate=25/1");
    for i in 0..6u64 {
        if i == 3 {
            let change = cut(7, 3, Some(gst::ClockTime::from_mseconds(120)), 9.0);
            assert!(h.push_event(change.to_event()));
        }
        let mut buffer = gst::Buffer::from_mut_slice(vec![(i * 40) as u8; 32 * 24]);
        {
            let b = buffer.get_mut().unwrap();
            b.set_pts(gst::ClockTime::from_mseconds(40 * i));
            b.set_duration(gst::ClockTime::from_mseconds(40));
        }
        assert_eq!(h.push(buffer), Ok(gst::FlowSuccess::Ok));
        let out = h.pull().unwrap();
        assert_eq!(out.pts(), Some(gst::ClockTime::from_mseconds(40 * i)));
        assert_eq!(out.size(), 32 * 24 * 3 / 2);
        assert_eq!(
            out.map_readable().unwrap()[..32 * 24],
            vec![(i * 40) as u8; 32 * 24][..]
        );
    }
    let changes: Vec<ReferenceChanged> = std::iter::from_fn(|| bus.pop())
        .filter_map(|m| match m.view() {
            gst::MessageView::Element(e) => {
                e.structure().and_then(ReferenceChanged::from_structure)
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        changes
            .iter()
            .map(|c| (c.scene, c.frame))
            .collect::<Vec<_>>(),
        vec![(0, 0), (7, 3)]
    );
    assert_eq!(changes[1].pts, Some(gst::ClockTime::from_mseconds(120)));
    assert!(changes
        .iter()
        .all(|c| c.distance == 0.0 && c.reference.ends_with("rocket.jpg")));
}

#[test]
fn prefers_i420_when_an_encoder_downstream_would_take_anything() {
    let (media, _) = media();
    let pipeline = launch(&format!(
        "videotestsrc num-buffers=2 ! video/x-raw,format=I420,width=64,height=48 ! \
         exemplarcolorize name=colorize reference={} ! videoconvert ! x264enc ! fakesink",
        media.join("refs/china.jpg").display()
    ));
    let colorize = pipeline.by_name("colorize").unwrap();
    let messages = run_to_end_keeping_caps(&pipeline, &colorize);
    assert_eq!(messages.as_deref(), Some("I420"));
}

/// Runs to EOS and returns the format the element's source pad negotiated.
fn run_to_end_keeping_caps(pipeline: &gst::Pipeline, element: &gst::Element) -> Option<String> {
    let format = Arc::new(Mutex::new(None));
    let store = format.clone();
    element.static_pad("src").unwrap().add_probe(
        gst::PadProbeType::EVENT_DOWNSTREAM,
        move |_, info| {
            if let Some(gst::PadProbeData::Event(event)) = &info.data {
                if let gst::EventView::Caps(caps) = event.view() {
                    let s = caps.caps().structure(0).unwrap();
                    *store.lock().unwrap() = s.get::<String>("format").ok();
                }
            }
            gst::PadProbeReturn::Ok
        },
    );
    let messages = run_to_end(pipeline);
    assert!(has_eos(&messages), "{:?}", errors(&messages));
    let format = format.lock().unwrap().clone();
    format
}

/// Harness around an element with these properties, posting to `bus`.
fn element_harness(
    properties: &[(&str, gst::glib::Value)],
    caps: &str,
    out_caps: &str,
) -> (Harness, gst::Bus) {
    init();
    let mut builder = gst::ElementFactory::make("exemplarcolorize");
    for (name, value) in properties {
        builder = builder.property(name, value.clone());
    }
    let element = builder.build().unwrap();
    let bus = gst::Bus::new();
    element.set_bus(Some(&bus));
    let mut h = Harness::with_element(&element, Some("sink"), Some("src"));
    h.set_src_caps_str(caps);
    h.set_sink_caps_str(out_caps);
    (h, bus)
}

/// Harness around an element colouring from one fixed photo, posting to `bus`.
fn fixed_reference_harness(reference: &Path, caps: &str, out_caps: &str) -> (Harness, gst::Bus) {
    photo_harness(reference, &[], caps, out_caps)
}

/// Harness around an element colouring from one fixed photo with `properties` besides,
/// posting to `bus`.
fn photo_harness(
    reference: &Path,
    properties: &[(&str, gst::glib::Value)],
    caps: &str,
    out_caps: &str,
) -> (Harness, gst::Bus) {
    let mut all = vec![("reference", reference.to_str().unwrap().to_value())];
    all.extend(properties.iter().cloned());
    element_harness(&all, caps, out_caps)
}

/// A cut announced for `frame`, whose running and stream time are its timestamp.
fn cut(scene: u32, frame: u64, pts: Option<gst::ClockTime>, score: f64) -> SceneChange {
    SceneChange {
        scene,
        frame,
        pts,
        running_time: pts,
        stream_time: pts,
        score,
        kind: SceneChangeKind::Cut,
    }
}

fn drain_reference_changes(bus: &gst::Bus) -> Vec<(u32, u64)> {
    std::iter::from_fn(|| bus.pop())
        .filter_map(|m| match m.view() {
            gst::MessageView::Element(e) => {
                e.structure().and_then(ReferenceChanged::from_structure)
            }
            _ => None,
        })
        .map(|c| (c.scene, c.frame))
        .collect()
}

fn i420(width: usize, height: usize, luma: u8) -> gst::Buffer {
    let mut data = vec![luma; width * height];
    data.extend(std::iter::repeat_n(
        128u8,
        2 * width.div_ceil(2) * height.div_ceil(2),
    ));
    gst::Buffer::from_mut_slice(data)
}

#[test]
fn limited_and_full_range_input_both_map_to_the_right_brightness() {
    let dir = temp_dir("range");
    let grey = dir.join("grey.png");
    image::RgbImage::from_pixel(64, 48, image::Rgb([120, 120, 120]))
        .save(&grey)
        .unwrap();
    for (colorimetry, low, high) in [("bt709", 254, 255), ("1:3:5:1", 230, 242)] {
        let (mut h, _bus) = fixed_reference_harness(
            &grey,
            &format!("video/x-raw,format=I420,width=16,height=16,framerate=25/1,colorimetry={colorimetry}"),
            "video/x-raw,format=RGB,width=16,height=16,framerate=25/1",
        );
        h.push(i420(16, 16, 235)).unwrap();
        let out = h.pull().unwrap();
        let map = out.map_readable().unwrap();
        for pixel in map[..16 * 3].chunks_exact(3) {
            assert!((low..=high).contains(&pixel[0]), "{colorimetry}: {pixel:?}");
            assert!(
                pixel[0].abs_diff(pixel[1]) <= 1 && pixel[1].abs_diff(pixel[2]) <= 1,
                "{pixel:?}"
            );
        }
    }
}

#[test]
fn a_flush_or_a_caps_change_chooses_the_reference_again() {
    let (media, _) = media();
    let caps = "video/x-raw,format=I420,width=16,height=16,framerate=25/1";
    let (mut h, bus) = fixed_reference_harness(
        &media.join("refs/coffee.jpg"),
        caps,
        "video/x-raw,format=I420",
    );
    for _ in 0..3 {
        h.push(i420(16, 16, 100)).unwrap();
    }
    assert_eq!(drain_reference_changes(&bus), vec![(0, 0)]);
    assert!(h.push_event(gst::event::FlushStart::new()));
    assert!(h.push_event(gst::event::FlushStop::new(true)));
    h.push_event(gst::event::Segment::new(&gst::FormattedSegment::<
        gst::ClockTime,
    >::new()));
    h.push(i420(16, 16, 100)).unwrap();
    h.push(i420(16, 16, 100)).unwrap();
    assert_eq!(
        drain_reference_changes(&bus),
        vec![(0, 0)],
        "after a flush: frame 0 again"
    );
    h.set_src_caps_str("video/x-raw,format=I420,width=32,height=16,framerate=25/1");
    h.push(i420(32, 16, 100)).unwrap();
    assert_eq!(
        drain_reference_changes(&bus),
        vec![(1, 2)],
        "a caps change starts scene 1"
    );
}

#[test]
fn a_missing_or_wrong_onnx_runtime_is_a_clear_error_at_ready() {
    let (media, _) = media();
    let pipeline = format!(
        "videotestsrc num-buffers=1 ! exemplarcolorize reference={} ! fakesink",
        media.join("refs/coffee.jpg").display()
    );
    let missing = gst_launch(
        &pipeline,
        &[("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so.1.32.0")],
    );
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(!missing.status.success());
    assert!(
        stderr.contains(
            "ORT_DYLIB_PATH names /nonexistent/libonnxruntime.so.1.32.0, which does not exist"
        ),
        "{stderr}"
    );
    let libc = "/lib/x86_64-linux-gnu/libc.so.6";
    let wrong = gst_launch(&pipeline, &[("ORT_DYLIB_PATH", libc)]);
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(!wrong.status.success());
    assert!(
        stderr.contains(&format!("cannot load ONNX Runtime from {libc}"))
            && stderr.contains("it is what ORT_DYLIB_PATH names")
            && stderr.contains("`pip install 'onnxruntime>=1.31'`"),
        "{stderr}"
    );
}

#[test]
fn a_wrong_model_folder_or_model_path_is_named_in_the_error() {
    let (media, _) = media();
    let pipeline = format!(
        "videotestsrc num-buffers=1 ! exemplarcolorize reference={} ! fakesink",
        media.join("refs/coffee.jpg").display()
    );
    let wrong_dir = gst_launch(&pipeline, &[("EXEMPLAR_MODEL_DIR", "/nonexistent/models")]);
    let stderr = String::from_utf8_lossy(&wrong_dir.stderr);
    assert!(!wrong_dir.status.success());
    assert!(
        stderr.contains("EXEMPLAR_MODEL_DIR names /nonexistent/models, which has no encoder.onnx"),
        "{stderr}"
    );

    init();
    let element = gst::ElementFactory::make("exemplarcolorize")
        .property("colorizer-model", "/nonexistent/my-colorizer.onnx")
        .build()
        .unwrap();
    let failed = refused_state_change(&element, gst::State::Ready);
    assert!(
        mentions(
            &failed,
            &["the colorizer-model property names /nonexistent/my-colorizer.onnx, which does not exist"]
        ) && !mentions(&failed, &["colorizer_reference"]),
        "{failed:?}"
    );
}

#[test]
fn bad_libraries_give_one_clear_message_each() {
    // A file where a folder should be.
    let dir = temp_dir("refs-is-a-file");
    let file = dir.join("photos");
    std::fs::write(&file, "not a folder").unwrap();
    let errors_file = errors(&start_once(&file, ""));
    assert!(
        mentions(&errors_file, &["Cannot read the refs folder", "photos"]),
        "{errors_file:?}"
    );

    // Files that claim to be photos and are not: each skipped by name, then a clear error.
    let fakes = temp_dir("refs-of-fakes");
    std::fs::write(fakes.join("one.jpg"), "text").unwrap();
    std::fs::write(fakes.join("two.webp"), [0u8; 64]).unwrap();
    let messages = start_once(&fakes, "");
    let warned = warnings(&messages);
    assert!(
        mentions(&warned, &["one.jpg"]) && mentions(&warned, &["two.webp"]),
        "{warned:?}"
    );
    let failed = errors(&messages);
    assert!(
        mentions(&failed, &["None of the 2 photos", "refs-of-fakes"]),
        "{failed:?}"
    );

    // Photos that cannot colour anything and image kinds it cannot read: warned about, the
    // others are used.
    let refs = copy_refs("refs-with-useless");
    image::RgbImage::from_pixel(64, 48, image::Rgb([120, 120, 120]))
        .save(refs.join("grey.png"))
        .unwrap();
    std::fs::write(refs.join("phone.heic"), "x").unwrap();
    std::fs::write(refs.join("anim.gif"), "x").unwrap();
    let messages = start_once(&refs, "");
    assert!(has_eos(&messages), "{:?}", errors(&messages));
    let warned = warnings(&messages);
    assert!(
        mentions(&warned, &["grey.png", "has no colour"]),
        "{warned:?}"
    );
    assert!(
        mentions(&warned, &["cannot be read: 1 .gif, 1 .heic"]),
        "{warned:?}"
    );
    assert_eq!(read_index(&library::default_index_path(&refs)).len(), 9);

    // A photo too large to decode safely is skipped with a warning; the others are used.
    let refs = copy_refs("refs-with-huge");
    let mut png = image::RgbImage::new(1, 1);
    png.put_pixel(0, 0, image::Rgb([1, 2, 3]));
    let mut bytes = Vec::new();
    png.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )
    .unwrap();
    // Rewrite the header's size to 20000x20000 (and its CRC) without the pixels behind it.
    bytes[16..20].copy_from_slice(&20000u32.to_be_bytes());
    bytes[20..24].copy_from_slice(&20000u32.to_be_bytes());
    let crc = crc32(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    std::fs::write(refs.join("huge.png"), &bytes).unwrap();
    let messages = start_once(&refs, "");
    assert!(has_eos(&messages), "{:?}", errors(&messages));
    let warned = warnings(&messages);
    assert!(
        mentions(&warned, &["huge.png", "20000x20000"]),
        "{warned:?}"
    );
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &byte in data {
        crc ^= byte as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn temporal_smoothing_changes_frames_inside_scenes_but_not_their_first_frames() {
    let (media, meta) = media();
    let refs = copy_refs("smoothing");
    let run = |strength: f64| {
        pull_frames(&format!(
            "filesrc location={} ! decodebin ! videoconvert ! scenecut ! \
             exemplarcolorize refs={} temporal-smoothing={strength} ! video/x-raw,format=RGB ! \
             fakesink name=out",
            media.join("scenes_grey.mp4").display(),
            refs.display()
        ))
    };
    let (off, on) = (run(0.0), run(0.5));
    assert_eq!(off.len(), on.len());
    let mut starts = vec![0usize];
    starts.extend(
        meta["cuts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_u64().unwrap() as usize),
    );
    for &start in &starts {
        assert!(
            off[start] == on[start],
            "scene start {start}: the past is dropped at a cut"
        );
    }
    let differing = (0..off.len()).filter(|&i| off[i] != on[i]).count();
    assert!(differing > off.len() / 2, "only {differing} frames changed");
}

/// `scenecut ! exemplarcolorize` on a generated grey clip at the smallest inference size: for
/// tests of which references are chosen, not of the colours.
fn references_pipeline(clip: &str, refs: &Path, properties: &str) -> gst::Pipeline {
    let (media, _) = media();
    launch(&format!(
        "filesrc location={} ! decodebin ! videoconvert ! scenecut ! exemplarcolorize refs={} \
         inference-size=64 {properties} ! fakesink",
        media.join(format!("{clip}_grey.mp4")).display(),
        refs.display(),
    ))
}

#[test]
fn scene_memory_gives_a_returning_photo_its_earlier_reference() {
    let (media, _) = media();
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(media.join("returns.json")).unwrap())
            .unwrap();
    let scenes = meta["scenes"].as_array().unwrap();
    let photos: Vec<&str> = scenes
        .iter()
        .map(|s| s["photo"].as_str().unwrap())
        .collect();
    let refs = copy_library("returns", meta["refs"].as_str().unwrap());
    let run = |memory: bool| {
        let pipeline = references_pipeline("returns", &refs, &format!("scene-memory={memory}"));
        let messages = run_to_end(&pipeline);
        assert!(has_eos(&messages), "{:?}", errors(&messages));
        let changes = reference_changes(&messages);
        assert_eq!(changes.len(), scenes.len(), "{changes:?}");
        for (change, scene) in changes.iter().zip(scenes) {
            assert_eq!(change.frame, scene["first_frame"].as_u64().unwrap());
        }
        changes
    };
    // Scenes of a photo already shown whose reference differs from that photo's first scene's.
    let switches = |changes: &[ReferenceChanged]| {
        (0..changes.len())
            .filter(|&k| {
                (0..k)
                    .find(|&j| photos[j] == photos[k])
                    .is_some_and(|first| {
                        file_name(&changes[first].reference) != file_name(&changes[k].reference)
                    })
            })
            .count()
    };

    let forgetful = run(false);
    assert!(forgetful.iter().all(|c| c.reused_from.is_none()));
    // Without memory, the closer other-colours photo wins at three of the four returns.
    assert_eq!(switches(&forgetful), 3, "{forgetful:?}");

    let remembering = run(true);
    // Scene 5 returns to the photo of scenes 0 and 2 and takes the reference of the one whose
    // first frame is more like its own: scene 0's with the encoder as built now (scene 2's
    // before its padding was made TensorFlow's).
    assert_eq!(
        remembering
            .iter()
            .map(|c| c.reused_from)
            .collect::<Vec<_>>(),
        vec![None, None, Some(0), Some(1), None, Some(0), Some(1)],
        "{remembering:?}"
    );
    assert_eq!(switches(&remembering), 0, "{remembering:?}");
    // A first appearance gets the same choice either way.
    for k in [0, 1, 4] {
        assert_eq!(remembering[k].reference, forgetful[k].reference);
    }
}

#[test]
fn a_flush_starts_the_scene_memory_afresh() {
    let pipeline = references_pipeline(
        "returns",
        &copy_library("returns-flush", "refs_returns"),
        "",
    );
    // Prerolling colours scene 0 (chelsea); the seek lands in scene 2 (chelsea again, frames
    // 60..89), which would recall scene 0 if the memory outlived the flush.
    preroll_and_seek(&pipeline, gst::ClockTime::from_mseconds(2800));
    let messages = run_to_end(&pipeline);
    assert!(has_eos(&messages), "{:?}", errors(&messages));
    // The messages of the preroll went with it; these all follow the flush.
    let changes = reference_changes(&messages);
    let after_flush: Vec<(u32, Option<u32>)> =
        changes.iter().map(|c| (c.scene, c.reused_from)).collect();
    assert_eq!(
        after_flush,
        vec![(0, None), (1, None), (2, None), (3, Some(0)), (4, Some(1))],
        "{changes:?}"
    );
}

#[test]
fn two_references_per_scene_colour_two_subjects_better_than_one() {
    let (media, _) = media();
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(media.join("pairs.json")).unwrap()).unwrap();
    let (width, height) = (
        meta["width"].as_u64().unwrap() as usize,
        meta["height"].as_u64().unwrap() as usize,
    );
    let refs = copy_library("pairs", meta["refs"].as_str().unwrap());
    let truth = std::fs::read(media.join("pairs.rgb")).unwrap();
    let run = |top_k: u32| {
        let (frames, messages) = pull_frames_and_messages(&format!(
            "filesrc location={} ! decodebin ! videoconvert ! scenecut ! exemplarcolorize refs={} \
             top-k={top_k} scene-memory=false ! video/x-raw,format=RGB ! fakesink name=out",
            media.join("pairs_grey.mp4").display(),
            refs.display()
        ));
        assert_eq!(frames.len(), meta["frames"].as_u64().unwrap() as usize);
        let changes = reference_changes(&messages);
        assert_eq!(changes.len(), meta["scenes"].as_array().unwrap().len());
        for change in &changes {
            assert_eq!(change.references.len(), top_k as usize, "{change:?}");
            assert_eq!(change.references[0], change.reference);
        }
        (psnr_ssim(&frames, &truth, width, height), changes)
    };
    let ((one_psnr, one_ssim), _) = run(1);
    let ((two_psnr, two_ssim), changes) = run(2);
    println!("two subjects per frame: top-k=1 {one_psnr:.2} dB / SSIM {one_ssim:.4}; top-k=2 {two_psnr:.2} dB / SSIM {two_ssim:.4}");
    // How many of each scene's two photos are among its two references: retrieval ranks the
    // whole frame, so in two scenes the second place goes to another photo (three before
    // re-ranking by local matches).
    let found: Vec<usize> = changes
        .iter()
        .zip(meta["scenes"].as_array().unwrap())
        .map(|(change, scene)| {
            let names: Vec<String> = change.references.iter().map(|r| file_name(r)).collect();
            scene["photo"]
                .as_str()
                .unwrap()
                .split('+')
                .filter(|photo| names.contains(&format!("{photo}.jpg")))
                .count()
        })
        .collect();
    assert_eq!(found, [1, 2, 2, 2, 1, 2], "{changes:?}");
    assert!(two_psnr > one_psnr + 0.5, "{two_psnr} vs {one_psnr}");
    assert!(two_ssim > one_ssim, "{two_ssim} vs {one_ssim}");
}

#[test]
fn scene_memory_passes_over_a_scene_that_shares_only_one_of_two_photos() {
    let pipeline = references_pipeline("pairs", &copy_refs("pairs-memory"), "");
    let messages = run_to_end(&pipeline);
    assert!(has_eos(&messages), "{:?}", errors(&messages));
    // Scenes 3 (rocket + astronaut) and 4 (china + coffee) each share one photo with scene 0
    // (astronaut + china): similarity 0.68 and 0.74, under the default 0.8. Scene 5 shows
    // scene 1's two photos swapped (0.89).
    assert_eq!(
        reference_changes(&messages)
            .iter()
            .map(|c| c.reused_from)
            .collect::<Vec<_>>(),
        vec![None, None, None, None, None, Some(1)]
    );
}

#[test]
fn every_choice_says_how_sure_it_is() {
    let refs = copy_refs("sure");
    let messages = start_once(&refs, "");
    assert!(has_eos(&messages), "{:?}", errors(&messages));
    let changes = reference_changes(&messages);
    assert_eq!(changes.len(), 1);
    let change = &changes[0];
    assert!(change.confident);
    assert_eq!(change.candidates.len(), 3);
    assert_eq!(change.candidates[0].0, change.reference);
    assert_eq!(change.candidates[0].1, change.score);
    assert_eq!(
        change.runner_up.as_deref(),
        Some(&change.candidates[1].0[..])
    );
    assert!((change.margin - (change.score - change.candidates[1].1)).abs() < 1e-12);
    assert!(change.candidates[1].1 >= change.candidates[2].1 && change.margin >= 0.0);
}

/// Pushes one 64x48 I420 frame of a scene (announced by a scene-change event) and returns the
/// output frame.
fn push_scene(h: &mut Harness, scene: u32, frame: u64, luma: &[u8]) -> gst::Buffer {
    assert!(h.push_event(cut(scene, frame, None, 10.0).to_event()));
    let mut data = luma.to_vec();
    data.extend(std::iter::repeat_n(128u8, 2 * 32 * 24));
    h.push(gst::Buffer::from_mut_slice(data)).unwrap();
    h.pull().unwrap()
}

#[test]
fn below_min_score_keeps_falls_back_or_leaves_grey() {
    let refs = copy_refs("below-min-score");
    let fallback = refs.join("china.jpg");
    let (mut h, bus) = element_harness(
        &[
            ("refs", refs.to_str().unwrap().to_value()),
            ("scene-memory", false.to_value()),
            ("fallback-reference", fallback.to_str().unwrap().to_value()),
        ],
        "video/x-raw,format=I420,width=64,height=48,framerate=25/1",
        "video/x-raw,format=I420,width=64,height=48,framerate=25/1",
    );
    let element = h.element().unwrap();
    let luma: Vec<u8> = (0..64 * 48)
        .map(|i| ((i % 64) * 3 + (i / 64) * 2) as u8)
        .collect();
    let chroma_is_neutral = |buffer: &gst::Buffer| {
        buffer.map_readable().unwrap()[64 * 48..]
            .iter()
            .all(|&v| v == 128)
    };
    // The scene's reference-changed and the warnings posted with it.
    let pop_change = |bus: &gst::Bus| {
        let messages: Vec<gst::Message> = std::iter::from_fn(|| bus.pop()).collect();
        let changes = reference_changes(&messages);
        assert_eq!(changes.len(), 1, "{changes:?}");
        (changes[0].clone(), warnings(&messages))
    };

    let first = push_scene(&mut h, 0, 0, &luma);
    let (chosen, warned) = pop_change(&bus);
    assert!(chosen.confident && !chosen.reference.is_empty());
    assert!(warned.is_empty(), "{warned:?}");
    assert!(!chroma_is_neutral(&first));

    // No score reaches 2: every later scene is below min-score.
    element.set_property("min-score", 2.0f64);
    push_scene(&mut h, 1, 1, &luma);
    let (kept, warned) = pop_change(&bus);
    assert!(!kept.confident && !kept.changed);
    assert!(
        mentions(
            &warned,
            &[
                "Scene 1 (frame 1)",
                "below min-score 2.000",
                "keeping the previous scene's reference"
            ]
        ),
        "{warned:?}"
    );
    assert_eq!(
        kept.references, chosen.references,
        "keep: the previous scene's reference"
    );
    assert_eq!(kept.candidates[0].0, chosen.candidates[0].0);

    element.set_property_from_str("below-min-score", "fallback");
    push_scene(&mut h, 2, 2, &luma);
    let (fell_back, warned) = pop_change(&bus);
    assert!(
        mentions(&warned, &["Scene 2", "using the fallback reference"]),
        "{warned:?}"
    );
    assert_eq!(
        fell_back.references,
        vec![fallback.to_string_lossy().into_owned()]
    );
    assert!(fell_back.changed);

    element.set_property_from_str("below-min-score", "grey");
    let grey = push_scene(&mut h, 3, 3, &luma);
    let (left_grey, warned) = pop_change(&bus);
    assert!(
        mentions(&warned, &["Scene 3", "leaving the scene grey"]),
        "{warned:?}"
    );
    assert!(left_grey.references.is_empty() && left_grey.reference.is_empty());
    assert!(chroma_is_neutral(&grey));
    assert_eq!(&grey.map_readable().unwrap()[..64 * 48], &luma[..]);
}

#[test]
fn an_index_of_the_previous_format_is_rebuilt_with_progress() {
    let refs = copy_refs("version-1");
    let index_path = library::default_index_path(&refs);
    assert!(has_eos(&start_once(&refs, "")));
    // A version 1 file: same magic, version 1, the rest as it was then.
    let mut old = std::fs::read(&index_path).unwrap();
    old[8..12].copy_from_slice(&1u32.to_le_bytes());
    std::fs::write(&index_path, &old).unwrap();
    let messages = start_once(&refs, "");
    assert!(has_eos(&messages), "{:?}", errors(&messages));
    assert!(
        mentions(
            &warnings(&messages),
            &[
                "Rebuilding the reference index",
                "version 1 is not supported"
            ]
        ),
        "{:?}",
        warnings(&messages)
    );
    let progress = messages
        .iter()
        .filter(|m| matches!(m.view(), gst::MessageView::Progress(_)))
        .count();
    assert!(progress >= 2, "Progress messages: {progress}");
    let rebuilt = read_index(&index_path);
    assert_eq!(rebuilt.len(), 9);
    assert!((1..=64).contains(&rebuilt.local(0).cells()));
}

/// Runs one 64x48 gradient frame through an element on `refs`, calling `meanwhile` after the
/// element started (its photos were found and the index read by then); returns the bus
/// messages.
fn one_frame_from_library(refs: &Path, meanwhile: impl FnOnce()) -> Vec<gst::Message> {
    let (mut h, bus) = element_harness(
        &[("refs", refs.to_str().unwrap().to_value())],
        "video/x-raw,format=GRAY8,width=64,height=48,framerate=25/1",
        "video/x-raw,format=I420,width=64,height=48,framerate=25/1",
    );
    meanwhile();
    let frame: Vec<u8> = (0..64 * 48).map(|i| (i % 64 * 4) as u8).collect();
    h.push(gst::Buffer::from_mut_slice(frame)).unwrap();
    h.pull().unwrap();
    std::iter::from_fn(|| bus.pop()).collect()
}

#[test]
fn a_photo_that_vanishes_mid_run_gives_way_to_the_next_best() {
    let refs = copy_refs("vanish");
    let first = reference_changes(&one_frame_from_library(&refs, || {}));
    let (chosen, next) = (first[0].reference.clone(), first[0].candidates[1].0.clone());
    let messages = one_frame_from_library(&refs, || std::fs::remove_file(&chosen).unwrap());
    let change = &reference_changes(&messages)[0];
    assert_eq!(change.reference, next);
    assert_eq!(
        change.candidates[0].0, chosen,
        "the index still lists the vanished photo"
    );
    let warned = warnings(&messages);
    assert!(
        mentions(
            &warned,
            &[
                "Scene 0",
                &file_name(&chosen),
                "cannot be read now",
                "using the next best",
                &file_name(&next)
            ]
        ),
        "{warned:?}"
    );
}

#[test]
fn a_scene_whose_first_frame_qos_drops_starts_at_the_next_frame() {
    let (media, _) = media();
    let (mut h, bus) = fixed_reference_harness(
        &media.join("refs/china.jpg"),
        "video/x-raw,format=I420,width=32,height=24,framerate=25/1",
        "video/x-raw,format=I420,width=32,height=24,framerate=25/1",
    );
    let frame = |pts_ms: u64| {
        let mut buffer = i420(32, 24, 100);
        buffer
            .get_mut()
            .unwrap()
            .set_pts(gst::ClockTime::from_mseconds(pts_ms));
        buffer
    };
    h.push(frame(0)).unwrap();
    h.pull().unwrap();
    // Downstream says it is 1 s late: the next frame (40 ms) is too late and dropped.
    assert!(h.push_upstream_event(gst::event::Qos::new(
        gst::QOSType::Underflow,
        1.0,
        1_000_000_000,
        gst::ClockTime::from_mseconds(40)
    )));
    let change = cut(1, 1, Some(gst::ClockTime::from_mseconds(40)), 9.0);
    assert!(h.push_event(change.to_event()));
    h.push(frame(40)).unwrap();
    assert!(h.try_pull().is_none(), "the late frame was dropped");
    h.push(frame(3000)).unwrap();
    let out = h.pull().unwrap();
    assert_eq!(out.pts(), Some(gst::ClockTime::from_mseconds(3000)));
    // Scene 0 from frame 0; scene 1 from frame 2, the first of it that was processed.
    assert_eq!(drain_reference_changes(&bus), vec![(0, 0), (1, 2)]);
}

/// A 32x24 I420 frame: luma ramp, and chroma `cb`, `cr` per 2x2 block (16x12 each).
fn i420_coloured(cb: impl Fn(usize) -> u8, cr: impl Fn(usize) -> u8) -> Vec<u8> {
    let mut data: Vec<u8> = (0..32 * 24).map(|i| 40 + (i % 32) as u8 * 5).collect();
    data.extend((0..16 * 12).map(&cb));
    data.extend((0..16 * 12).map(&cr));
    data
}

fn push_frame(h: &mut Harness, scene: Option<u32>, frame: u64, data: &[u8]) -> Vec<u8> {
    if let Some(scene) = scene {
        assert!(h.push_event(cut(scene, frame, None, 10.0).to_event()));
    }
    h.push(gst::Buffer::from_slice(data.to_vec())).unwrap();
    h.pull().unwrap().map_readable().unwrap().to_vec()
}

#[test]
fn colour_scenes_pass_through_untouched_and_grey_or_toned_ones_are_colorized() {
    let (media, _) = media();
    let caps = "video/x-raw,format=I420,width=32,height=24,framerate=25/1";
    let (mut h, bus) = fixed_reference_harness(&media.join("refs/coffee.jpg"), caps, caps);
    // Left half blue, right half orange: Cb ±24 and Cr ±32 around their means, spread 40.
    let colour = i420_coloured(
        |i| if i % 16 < 8 { 152 } else { 104 },
        |i| if i % 16 < 8 { 96 } else { 160 },
    );
    // Toned like sepia: the same chroma everywhere, far from neutral (spread 0).
    let sepia = i420_coloured(|_| 112, |_| 146);
    let grey = i420_coloured(|_| 128, |_| 128);

    let out = push_frame(&mut h, Some(0), 0, &grey);
    assert_eq!(out[..32 * 24], grey[..32 * 24], "luma kept");
    assert_ne!(out[32 * 24..], grey[32 * 24..], "a grey scene is colorized");
    assert_eq!(drain_reference_changes(&bus), vec![(0, 0)]);

    // A scene that starts in colour: passed through bit-exactly, frame after frame, grey frames
    // of the same scene too, and no reference is chosen for it.
    assert_eq!(push_frame(&mut h, Some(1), 1, &colour), colour);
    assert_eq!(push_frame(&mut h, None, 2, &colour), colour);
    assert_eq!(push_frame(&mut h, None, 3, &grey), grey);
    let messages: Vec<gst::Message> = std::iter::from_fn(|| bus.pop()).collect();
    assert!(reference_changes(&messages).is_empty());
    let warned = warnings(&messages);
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(
        mentions(
            &warned,
            &[
                "Frame 1 (scene 1)",
                "chroma spread 40.0",
                "colour-input=colorize"
            ]
        ),
        "{warned:?}"
    );

    // The next scene is toned film: colorized, with a reference of its own.
    let out = push_frame(&mut h, Some(2), 4, &sepia);
    assert_eq!(out[..32 * 24], sepia[..32 * 24]);
    assert_ne!(out[32 * 24..], sepia[32 * 24..]);
    assert_eq!(drain_reference_changes(&bus), vec![(2, 4)]);

    // A scene that turns colour mid-way (a fade in from grey) passes through from there on;
    // the stream's colour was reported already.
    assert_ne!(push_frame(&mut h, Some(3), 5, &grey), grey);
    assert_eq!(push_frame(&mut h, None, 6, &colour), colour);
    let messages: Vec<gst::Message> = std::iter::from_fn(|| bus.pop()).collect();
    assert!(warnings(&messages).is_empty());
}

#[test]
fn colour_input_colorize_recolours_colour_scenes_and_says_so() {
    let (media, _) = media();
    let caps = "video/x-raw,format=I420,width=32,height=24,framerate=25/1";
    let (mut h, bus) = photo_harness(
        &media.join("refs/coffee.jpg"),
        &[("colour-input", ColourInput::Colorize.to_value())],
        caps,
        caps,
    );
    let colour = i420_coloured(|i| if i % 16 < 8 { 160 } else { 96 }, |_| 128);
    let out = push_frame(&mut h, Some(0), 0, &colour);
    assert_eq!(out[..32 * 24], colour[..32 * 24]);
    assert_ne!(out[32 * 24..], colour[32 * 24..]);
    let messages: Vec<gst::Message> = std::iter::from_fn(|| bus.pop()).collect();
    let warned = warnings(&messages);
    assert!(
        mentions(
            &warned,
            &[
                "chroma spread 32.0",
                "replaced by the references'",
                "pass-through"
            ]
        ),
        "{warned:?}"
    );
    // Above a raised threshold the same frame counts as grey: no report.
    let (mut h, bus) = element_harness(
        &[
            (
                "reference",
                media.join("refs/coffee.jpg").to_str().unwrap().to_value(),
            ),
            ("colour-threshold", 40.0.to_value()),
        ],
        caps,
        caps,
    );
    assert_ne!(push_frame(&mut h, Some(0), 0, &colour), colour);
    let messages: Vec<gst::Message> = std::iter::from_fn(|| bus.pop()).collect();
    assert!(warnings(&messages).is_empty());
}

#[test]
fn ten_bit_or_interlaced_input_is_refused_with_what_to_put_before_the_element() {
    let (media, _) = media();
    let reference = media.join("refs/coffee.jpg");
    let out_caps = "video/x-raw,format=I420";
    // 10-bit 4:2:2 (an archive master): refused caps, explained once as a warning first.
    let (mut h, bus) = fixed_reference_harness(
        &reference,
        "video/x-raw,format=I422_10LE,width=32,height=24,framerate=25/1",
        out_caps,
    );
    let frame = gst::Buffer::from_slice(vec![0u8; 32 * 24 * 2 * 2]);
    assert_eq!(h.push(frame.clone()), Err(gst::FlowError::NotNegotiated));
    assert_eq!(h.push(frame), Err(gst::FlowError::NotNegotiated));
    let messages: Vec<gst::Message> = std::iter::from_fn(|| bus.pop()).collect();
    let warned = warnings(&messages);
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(
        mentions(
            &warned,
            &["I422_10LE", "10-bit", "videoconvert", "GRAY8, I420"]
        ),
        "{warned:?}"
    );
    // Interlaced: an error that says to deinterlace, posted once.
    let (mut h, bus) = fixed_reference_harness(
        &reference,
        "video/x-raw,format=I420,width=32,height=24,framerate=25/1,interlace-mode=interleaved",
        out_caps,
    );
    for _ in 0..2 {
        assert_eq!(
            h.push(i420(32, 24, 100)),
            Err(gst::FlowError::NotNegotiated)
        );
    }
    let messages: Vec<gst::Message> = std::iter::from_fn(|| bus.pop()).collect();
    let failed = errors(&messages);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        mentions(&failed, &["interlace-mode=interleaved", "deinterlace"]),
        "{failed:?}"
    );
}

/// Timestamps and bytes of the buffers reaching the sink named `out` from `from` on: the
/// pipeline prerolls, seeks there (accurate, flushing) and plays to the end.
fn pull_frames_from(description: &str, from: gst::ClockTime) -> Vec<(gst::ClockTime, Vec<u8>)> {
    let pipeline = launch(description);
    let frames = Arc::new(Mutex::new(Vec::new()));
    let store = frames.clone();
    pipeline
        .by_name("out")
        .unwrap()
        .static_pad("sink")
        .unwrap()
        .add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if let Some(gst::PadProbeData::Buffer(buffer)) = &info.data {
                let pts = buffer.pts().unwrap();
                if pts >= from {
                    let bytes = buffer.map_readable().unwrap().to_vec();
                    store.lock().unwrap().push((pts, bytes));
                }
            }
            gst::PadProbeReturn::Ok
        });
    preroll_and_seek(&pipeline, from);
    let messages = run_to_end(&pipeline);
    assert!(has_eos(&messages), "{:?}", errors(&messages));
    let frames = frames.lock().unwrap().clone();
    frames
}

#[test]
fn a_plan_colours_a_range_of_whole_scenes_as_the_pass_over_the_whole_film_does() {
    let (media, _) = media();
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(media.join("returns.json")).unwrap())
            .unwrap();
    let refs = copy_library("plan", meta["refs"].as_str().unwrap());
    let plan_location = temp_dir("plan-file").join("returns.plan.json");
    let chain = |element: &str| {
        format!(
            "filesrc location={} ! decodebin ! videoconvert ! {element} ! \
             video/x-raw,format=I420 ! fakesink name=out sync=false",
            media.join("returns_grey.mp4").display()
        )
    };
    let choosing = format!(
        "scenecut ! exemplarcolorize refs={} inference-size=64",
        refs.display()
    );
    let whole = pull_frames_from(&chain(&choosing), gst::ClockTime::ZERO);
    let planning = launch(&chain(&format!(
        "{choosing} mode=plan plan-location={}",
        plan_location.display()
    )));
    let messages = run_to_end(&planning);
    assert!(has_eos(&messages), "{:?}", errors(&messages));
    let changes = reference_changes(&messages);

    let plan = Plan::read(&plan_location).unwrap();
    let first_frames: Vec<u64> = meta["scenes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["first_frame"].as_u64().unwrap())
        .collect();
    assert_eq!(
        plan.scenes.iter().map(|s| s.frame).collect::<Vec<_>>(),
        first_frames
    );
    for (planned, change) in plan.scenes.iter().zip(&changes) {
        let paths: Vec<String> = planned
            .references
            .as_ref()
            .unwrap()
            .iter()
            .map(|r| r.path.to_string_lossy().into_owned())
            .collect();
        assert_eq!(paths, change.references);
        assert_eq!(Some(planned.pts), change.pts.map(|pts| pts.nseconds()));
    }
    // Scene 3 reuses scene 1's reference through scene memory, which a pass starting at scene 3
    // cannot have seen: the plan carries it.
    assert_eq!(changes[3].reused_from, Some(1));

    // The part starts half a second into scene 2: those frames take scene 2's references from
    // the plan, and scene 3 starts afresh at its first frame all the same.
    let from = gst::ClockTime::from_nseconds(plan.scenes[3].pts);
    let part: Vec<(gst::ClockTime, Vec<u8>)> = pull_frames_from(
        &chain(&format!(
            "exemplarcolorize inference-size=64 plan-location={}",
            plan_location.display()
        )),
        from - gst::ClockTime::from_mseconds(500),
    )
    .into_iter()
    .filter(|(pts, _)| *pts >= from)
    .collect();
    let expected: Vec<&(gst::ClockTime, Vec<u8>)> =
        whole.iter().filter(|(pts, _)| *pts >= from).collect();
    assert_eq!(
        part.iter().map(|(pts, _)| *pts).collect::<Vec<_>>(),
        expected.iter().map(|(pts, _)| *pts).collect::<Vec<_>>()
    );
    let differing: Vec<gst::ClockTime> = part
        .iter()
        .zip(&expected)
        .filter(|(a, b)| a.1 != b.1)
        .map(|(a, _)| a.0)
        .collect();
    assert!(differing.is_empty(), "frames differ at {differing:?}");
}

#[test]
fn plan_settings_that_cannot_work_are_clear_errors_at_start() {
    let refs = copy_refs("plan-errors");
    let without_location = errors(&start_once(&refs, "mode=plan"));
    assert!(
        mentions(&without_location, &["mode=plan needs plan-location"]),
        "{without_location:?}"
    );
    let missing = refs.join("no-such.plan.json");
    let unreadable = errors(&start_once(
        &refs,
        &format!("plan-location={}", missing.display()),
    ));
    assert!(
        mentions(
            &unreadable,
            &["Cannot follow the scene plan", "no-such.plan.json"]
        ),
        "{unreadable:?}"
    );
    // A plan of another film: its first scene starts after this stream's frames.
    let elsewhere = refs.join("elsewhere.plan.json");
    std::fs::write(
        &elsewhere,
        r#"{"version": 1, "scenes": [{"scene": 0, "frame": 0, "pts": 999000000000, "references": []}]}"#,
    )
    .unwrap();
    let outside = errors(&start_once(
        &refs,
        &format!("plan-location={}", elsewhere.display()),
    ));
    assert!(
        mentions(
            &outside,
            &["is not covered by the scene plan", "elsewhere.plan.json"]
        ),
        "{outside:?}"
    );
}

fn progress_types(messages: &[gst::Message]) -> Vec<gst::ProgressType> {
    messages
        .iter()
        .filter_map(|m| match m.view() {
            gst::MessageView::Progress(p) => Some(p.get().0),
            _ => None,
        })
        .collect()
}

#[test]
fn indexing_runs_beside_the_state_change_and_stops_with_the_pipeline() {
    let (media, _) = media();
    let refs = temp_dir("big-library");
    let photos: Vec<PathBuf> = std::fs::read_dir(media.join("refs"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    // Enough photos that embedding them takes seconds.
    for copy in 0..20 {
        for photo in &photos {
            let name = format!("{copy}-{}", photo.file_name().unwrap().to_string_lossy());
            std::fs::copy(photo, refs.join(name)).unwrap();
        }
    }
    let total = photos.len() * 20;
    let index_path = temp_dir("big-library-index").join("index");
    let description = format!(
        "videotestsrc num-buffers=1 ! video/x-raw,format=GRAY8,width=64,height=48 ! \
         exemplarcolorize refs={} index-location={} ! fakesink",
        refs.display(),
        index_path.display()
    );
    let pipeline = launch(&description);
    let bus = pipeline.bus().unwrap();
    assert_eq!(
        pipeline.set_state(gst::State::Paused),
        Ok(gst::StateChangeSuccess::Async)
    );
    // The state change came back while the photos are being embedded.
    let early: Vec<gst::Message> = std::iter::from_fn(|| bus.pop()).collect();
    let started = progress_types(&early);
    assert!(
        started.contains(&gst::ProgressType::Start)
            && !started.contains(&gst::ProgressType::Complete),
        "{started:?}"
    );
    // Some photos embedded (progress is posted every half second): then stop.
    loop {
        let message = bus
            .timed_pop_filtered(
                gst::ClockTime::from_seconds(60),
                &[gst::MessageType::Progress],
            )
            .expect("no indexing progress in 60 s");
        if matches!(message.view(), gst::MessageView::Progress(p) if p.get().0 == gst::ProgressType::Continue)
        {
            break;
        }
    }
    // Stopping stops the indexing and keeps what it embedded.
    pipeline.set_state(gst::State::Null).unwrap();
    let saved = read_index(&index_path).len();
    assert!(saved > 0 && saved < total, "{saved} of {total} saved");

    let messages = run_to_end(&launch(&description));
    assert!(has_eos(&messages), "{:?}", errors(&messages));
    assert!(progress_types(&messages).contains(&gst::ProgressType::Complete));
    assert_eq!(read_index(&index_path).len(), total);
    // The first scene was chosen from the whole library, after it was indexed.
    let complete = messages
        .iter()
        .position(|m| {
            matches!(m.view(), gst::MessageView::Progress(p) if p.get().0 == gst::ProgressType::Complete)
        })
        .unwrap();
    let chosen = messages
        .iter()
        .position(|m| {
            matches!(m.view(), gst::MessageView::Element(e)
                if e.structure().is_some_and(|s| s.name() == ReferenceChanged::NAME))
        })
        .unwrap();
    assert!(complete < chosen, "{complete} {chosen}");
}

/// What leaves the element, in order: `buffer <pts ms>` and `scene <n>` for its scene-change
/// events, and the frames' data.
type Leaving = (Vec<String>, Vec<Vec<u8>>);

/// Pushes eight 64x48 frames through an element with `overlap`: scene 0 grey (frames 0-2),
/// scene 1 from frame 3 (grey, turning colour at frame 5, so frames 5-6 pass through), scene 2
/// from frame 7; then the end of the stream. Returns what left and, per frame pushed, how many
/// frames had left by then.
fn overlap_sequence(overlap: Overlap) -> (Leaving, Vec<usize>) {
    let (media, _) = media();
    let caps = "video/x-raw,format=I420,width=64,height=48,framerate=25/1";
    let (mut h, _bus) = photo_harness(
        &media.join("refs/coffee.jpg"),
        &[("overlap", overlap.to_value())],
        caps,
        caps,
    );
    let order = Arc::new(Mutex::new(Vec::new()));
    let store = order.clone();
    h.element().unwrap().static_pad("src").unwrap().add_probe(
        gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM,
        move |_, info| {
            match &info.data {
                Some(gst::PadProbeData::Buffer(buffer)) => store
                    .lock()
                    .unwrap()
                    .push(format!("buffer {}", buffer.pts().unwrap().mseconds())),
                Some(gst::PadProbeData::Event(event)) => {
                    if let Some(change) = SceneChange::from_event(event) {
                        store
                            .lock()
                            .unwrap()
                            .push(format!("scene {}", change.scene));
                    }
                }
                _ => {}
            }
            gst::PadProbeReturn::Ok
        },
    );
    let (width, height) = (64, 48);
    let mut left = Vec::new();
    let mut frames = Vec::new();
    for i in 0..8u64 {
        if let Some(scene) = [(3, 1), (7, 2)].iter().find(|(at, _)| *at == i) {
            let pts = gst::ClockTime::from_mseconds(40 * i);
            assert!(h.push_event(cut(scene.1, i, Some(pts), 9.0).to_event()));
        }
        let mut data: Vec<u8> = (0..width * height)
            .map(|p| (20 + (p % width) * 3 + (p / width) + 7 * i as usize) as u8)
            .collect();
        let chroma = width / 2 * height / 2;
        if i == 5 || i == 6 {
            data.extend((0..chroma).map(|p| if p % 32 < 16 { 152 } else { 104 }));
            data.extend((0..chroma).map(|p| if p % 32 < 16 { 96 } else { 160 }));
        } else {
            data.extend(std::iter::repeat_n(128u8, 2 * chroma));
        }
        let mut buffer = gst::Buffer::from_mut_slice(data);
        {
            let b = buffer.get_mut().unwrap();
            b.set_pts(gst::ClockTime::from_mseconds(40 * i));
            b.set_duration(gst::ClockTime::from_mseconds(40));
        }
        assert_eq!(h.push(buffer), Ok(gst::FlowSuccess::Ok));
        frames.extend(std::iter::from_fn(|| h.try_pull()));
        left.push(frames.len());
    }
    assert!(h.push_event(gst::event::Eos::new()));
    frames.extend(std::iter::from_fn(|| h.try_pull()));
    let data = frames
        .iter()
        .map(|f| f.map_readable().unwrap().to_vec())
        .collect();
    let order = order.lock().unwrap().clone();
    ((order, data), left)
}

#[test]
fn overlap_gives_the_same_frames_in_the_same_order_a_frame_later() {
    let (serial, left_serial) = overlap_sequence(Overlap::Off);
    let (overlapped, left_overlapped) = overlap_sequence(Overlap::On);
    let expected: Vec<String> = [
        "buffer 0",
        "buffer 40",
        "buffer 80",
        "scene 1",
        "buffer 120",
        "buffer 160",
        "buffer 200",
        "buffer 240",
        "scene 2",
        "buffer 280",
    ]
    .map(String::from)
    .to_vec();
    assert_eq!(serial.0, expected);
    assert_eq!(overlapped.0, expected);
    assert_eq!(serial.1.len(), 8);
    for (i, (a, b)) in serial.1.iter().zip(&overlapped.1).enumerate() {
        assert!(a == b, "frame {i} differs");
    }
    // One after the other, each frame leaves when it comes. With overlap a coloured frame
    // leaves when the next frame comes (frame 4 with frame 5, which passes through and leaves
    // at once after it), when an event comes (frame 2 before scene 1's) or at the end (frame 7).
    assert_eq!(left_serial, [1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(left_overlapped, [0, 1, 2, 3, 4, 6, 7, 7]);
}

#[test]
fn overlap_adds_a_frame_to_the_latency_and_a_flush_drops_the_frame_it_holds() {
    let (media, _) = media();
    let caps = "video/x-raw,format=I420,width=32,height=24,framerate=25/1";
    let (mut h, _bus) = photo_harness(
        &media.join("refs/china.jpg"),
        &[("overlap", Overlap::On.to_value())],
        caps,
        caps,
    );
    h.set_upstream_latency(gst::ClockTime::from_mseconds(10));
    assert_eq!(
        h.query_latency(),
        Some(gst::ClockTime::from_mseconds(10 + 150 + 40))
    );
    let frame = |pts_ms: u64| {
        let mut buffer = i420(32, 24, 100);
        buffer
            .get_mut()
            .unwrap()
            .set_pts(gst::ClockTime::from_mseconds(pts_ms));
        buffer
    };
    h.push(frame(0)).unwrap();
    assert!(h.try_pull().is_none(), "frame 0 is held");
    h.push(frame(40)).unwrap();
    assert_eq!(
        h.pull().unwrap().pts(),
        Some(gst::ClockTime::from_mseconds(0))
    );
    assert!(h.push_event(gst::event::FlushStart::new()));
    assert!(h.push_event(gst::event::FlushStop::new(true)));
    let mut segment = gst::FormattedSegment::<gst::ClockTime>::new();
    segment.set_start(gst::ClockTime::ZERO);
    assert!(h.push_event(gst::event::Segment::new(&segment)));
    h.push(frame(1000)).unwrap();
    assert!(h.push_event(gst::event::Eos::new()));
    let after: Vec<_> = std::iter::from_fn(|| h.try_pull())
        .map(|b| b.pts().unwrap().mseconds())
        .collect();
    assert_eq!(
        after,
        [1000],
        "the frame held at the flush (40 ms) is dropped"
    );
}

/// The frames of a 1280x720 clip of moving bars and gradients (grey, in `format`) coloured
/// from one photo with `properties`, the warnings and errors posted, and who wrote the frames
/// (`active-render`).
fn coloured_720p(
    format: &str,
    properties: &[(&str, gst::glib::Value)],
) -> (Vec<Vec<u8>>, Vec<String>, Render) {
    let (media, _) = media();
    let (width, height) = (1280, 720);
    let caps = format!("video/x-raw,format=I420,width={width},height={height},framerate=25/1");
    let out_caps =
        format!("video/x-raw,format={format},width={width},height={height},framerate=25/1");
    let (mut h, bus) = photo_harness(&media.join("refs/china.jpg"), properties, &caps, &out_caps);
    let mut frames = Vec::new();
    for i in 0..4usize {
        let mut data: Vec<u8> = (0..width * height)
            .map(|p| {
                let (x, y) = (p % width, p / width);
                let bar = if (x + 23 * i) / 61 % 2 == 0 { 60 } else { 0 };
                (30 + y / 6 + bar) as u8
            })
            .collect();
        data.extend(std::iter::repeat_n(128u8, width * height / 2));
        let mut buffer = gst::Buffer::from_mut_slice(data);
        buffer
            .get_mut()
            .unwrap()
            .set_pts(gst::ClockTime::from_mseconds(40 * i as u64));
        assert_eq!(h.push(buffer), Ok(gst::FlowSuccess::Ok));
        frames.extend(std::iter::from_fn(|| h.try_pull()));
    }
    assert!(h.push_event(gst::event::Eos::new()));
    frames.extend(std::iter::from_fn(|| h.try_pull()));
    let posted: Vec<gst::Message> = std::iter::from_fn(|| bus.pop()).collect();
    let mut problems = warnings(&posted);
    problems.extend(errors(&posted));
    let frames = frames
        .iter()
        .map(|f| f.map_readable().unwrap().to_vec())
        .collect();
    let active = h.element().unwrap().property::<Render>("active-render");
    (frames, problems, active)
}

#[test]
fn the_render_graph_writes_the_cpus_colours_and_leaves_luma_alone() {
    let render = |value: Render| ("render", value.to_value());
    let (on_cpu, problems, active) = coloured_720p("I420", &[render(Render::Cpu)]);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(active, Render::Cpu);
    assert_eq!(on_cpu.len(), 4);
    let luma = 1280 * 720;
    for overlap in [Overlap::Off, Overlap::On] {
        let (by_graph, problems, active) = coloured_720p(
            "I420",
            &[
                render(Render::ExecutionProvider),
                ("overlap", overlap.to_value()),
            ],
        );
        assert!(problems.is_empty(), "{problems:?}");
        // The graph wrote these frames: equal colours alone would not show it.
        assert_eq!(active, Render::ExecutionProvider);
        assert_eq!(by_graph.len(), on_cpu.len());
        for (cpu, graph) in on_cpu.iter().zip(&by_graph) {
            assert!(cpu[..luma] == graph[..luma], "luma changed");
            let chroma: Vec<u8> = cpu[luma..]
                .iter()
                .zip(&graph[luma..])
                .map(|(c, g)| c.abs_diff(*g))
                .collect();
            let differing = chroma.iter().filter(|&&d| d > 0).count();
            assert!(chroma.iter().all(|&d| d <= 1), "{overlap:?}");
            assert!(
                differing * 10_000 <= chroma.len(),
                "{overlap:?}: {differing}"
            );
            // Coloured, not neutral: a graph that wrote grey would not pass as the CPU's.
            assert!(cpu[luma..].iter().filter(|&&v| v != 128).count() > chroma.len() / 2);
        }
    }
    // RGB output is the CPU's work whatever `render` says: the same bytes.
    let (rgb_cpu, _, _) = coloured_720p("RGB", &[render(Render::Cpu)]);
    let (rgb_graph, problems, _) = coloured_720p("RGB", &[render(Render::ExecutionProvider)]);
    assert!(problems.is_empty(), "{problems:?}");
    assert!(rgb_cpu == rgb_graph);
}

#[test]
fn a_render_graph_asked_for_but_missing_is_an_error_naming_it() {
    let models = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("generated/models");
    let dir = temp_dir("no-render-graph");
    for file in ["colorizer.onnx", "colorizer_reference.onnx"] {
        std::fs::copy(models.join(file), dir.join(file)).unwrap();
    }
    let refs = copy_refs("no-render-graph-refs");
    let colorizer = format!("colorizer-model={}", dir.join("colorizer.onnx").display());
    let messages = start_once(&refs, &format!("{colorizer} render=execution-provider"));
    let missing = dir.join("render.onnx");
    assert!(
        mentions(
            &errors(&messages),
            &["render graph", missing.to_str().unwrap(), "does not exist"]
        ),
        "{:?}",
        errors(&messages)
    );
    // On a CPU `auto` never needs it.
    let messages = start_once(&refs, &format!("{colorizer} render=auto"));
    assert!(has_eos(&messages), "{:?}", errors(&messages));
    assert!(warnings(&messages).is_empty(), "{:?}", warnings(&messages));
}
