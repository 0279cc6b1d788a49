// SPDX-License-Identifier: MIT OR Apache-2.0

//! The per-frame chain, free of GStreamer types: a grey frame's lightness and its scene's
//! references in, the output's colour planes out (the luma plane is the caller's). The element
//! runs it on every frame; benchmarks and tests run it without a pipeline, with the models or
//! with a predictor of their own.

use std::time::{Duration, Instant};

use super::color::LabToVideo;
use super::fusion;
use super::inference::{InferenceError, Prediction, RenderModel};
use super::render::{self, Colouring, OutputLayout, OutputPlanes, Renderer};
use super::resample::Resampler;
use super::temporal;

/// Radius, at working resolution, of the guided upsampling of chroma to the frame.
pub const UPSAMPLE_RADIUS: usize = 4;

/// A frame's lightness (CIE L*), `width × height`, row after row.
#[derive(Debug, Clone, Copy)]
pub struct Lightness<'a> {
    pub data: &'a [f32],
    pub width: usize,
    pub height: usize,
}

/// The settings a frame is coloured with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChainSettings {
    /// Short side of the working size the colorizer runs at.
    pub inference_size: usize,
    /// Weight of the previous frame's colours where the picture did not change.
    pub temporal_smoothing: f64,
}

/// Where the colour goes: the output's layout, its colorimetry, its planes.
pub struct Target<'a, 'b> {
    pub layout: OutputLayout,
    pub convert: &'a LabToVideo,
    pub planes: &'a mut OutputPlanes<'b>,
}

/// Where a frame's time went, and the working size it was coloured at.
#[derive(Debug, Clone, Default)]
pub struct StageTimes {
    pub working_size: (usize, usize),
    pub resize: Duration,
    pub colorizer: Duration,
    /// Guided upsampling of the chroma and writing the output, done together row by row.
    pub render: Duration,
    /// Why the render graph failed on this frame (the CPU wrote it, and writes the rest).
    pub render_failure: Option<InferenceError>,
}

/// The full-resolution ends of the chain, run on the thread that has the frame: from the
/// frame's lightness to its working size, and from the colour at working size back to the
/// frame's planes. It keeps the resampling weights and row scratch from frame to frame.
#[derive(Default)]
pub struct FullSize {
    to_working_size: Option<Resampler>,
    renderer: Renderer,
    /// The render graph, when the frames are to be written on the models' execution provider;
    /// frames it cannot write (see [`graph_chroma`]) are written on the CPU.
    pub graph: Option<RenderModel>,
}

/// Whether the render graph writes a frame of `size` coloured at `small` in `layout`, and if so
/// whether its chroma is 2x2-subsampled. It does YUV layouts whose chroma grid is the frame's or
/// its exact half, at least the working size on both axes: there it computes what the CPU's
/// renderer computes. RGB output, odd sizes and chroma grids smaller than the prediction (where
/// the CPU's renderer averages areas instead) stay on the CPU.
pub fn graph_chroma(
    layout: OutputLayout,
    (width, height): (usize, usize),
    small: (usize, usize),
) -> Option<bool> {
    let subsampled = match layout {
        OutputLayout::Planar { sub_x: 1, sub_y: 1 } => false,
        OutputLayout::Planar { sub_x: 2, sub_y: 2 } | OutputLayout::SemiPlanar => true,
        _ => return None,
    };
    if subsampled && !(width.is_multiple_of(2) && height.is_multiple_of(2)) {
        return None;
    }
    let (cw, ch) = layout.chroma_size(width, height);
    let grows = cw >= small.0 && ch >= small.1 && (cw, ch) != small;
    grows.then_some(subsampled)
}

impl FullSize {
    /// The frame's lightness at the working size for `inference_size`, into `small`; returns
    /// that size.
    pub fn shrink(
        &mut self,
        frame: Lightness,
        inference_size: usize,
        small: &mut Vec<f32>,
    ) -> (usize, usize) {
        let working = render::working_size(frame.width, frame.height, inference_size);
        small.resize(working.0 * working.1, 0.0);
        Resampler::fitted(
            &mut self.to_working_size,
            (frame.width, frame.height),
            working,
        )
        .resize_into(frame.data, small);
        working
    }

    /// Writes the frame's colour planes from its chroma at working size, with the render graph
    /// where there is one that can. If the graph fails, it is dropped and the CPU writes this
    /// frame and the rest: the failure is returned for the caller to report.
    pub fn render(
        &mut self,
        frame: Lightness,
        working: &WorkingColour,
        target: Target,
    ) -> Option<InferenceError> {
        let colouring = Colouring {
            lightness: frame.data,
            size: (frame.width, frame.height),
            small_lightness: &working.lightness,
            small: working.size,
            a: &working.a,
            b: &working.b,
        };
        if let (Some(graph), Some(subsampled)) = (
            &mut self.graph,
            graph_chroma(target.layout, colouring.size, working.size),
        ) {
            let layout = target.layout;
            let planes = &mut *target.planes;
            match graph.render(colouring, subsampled, target.convert, |cbcr, (cw, ch)| {
                let (cb, cr) = cbcr.split_at(cw * ch);
                render::write_cbcr(layout, (cw, ch), planes, |x, y| {
                    [cb[y * cw + x], cr[y * cw + x]]
                });
            }) {
                Ok(()) => return None,
                Err(err) => {
                    self.graph = None;
                    self.write_on_cpu(colouring, target);
                    return Some(err);
                }
            }
        }
        self.write_on_cpu(colouring, target);
        None
    }

    fn write_on_cpu(&mut self, colouring: Colouring, target: Target) {
        self.renderer.write_colour(
            target.layout,
            colouring,
            UPSAMPLE_RADIUS,
            target.convert,
            target.planes,
        );
    }
}

/// A frame at working size: its lightness, and once coloured its a*, b*. Its planes are kept
/// from frame to frame, so steady state allocates none.
#[derive(Debug, Default)]
pub struct WorkingColour {
    pub size: (usize, usize),
    pub lightness: Vec<f32>,
    pub a: Vec<f32>,
    pub b: Vec<f32>,
}

/// The working-size middle of the chain: the colorizer, the fusion of several references and
/// the temporal smoothing. What carries over from frame to frame is the scene's colours, so
/// its frames must come in order; it needs nothing of the full-size frame, so it can run on
/// another thread while the previous frame is written out.
#[derive(Default)]
pub struct WorkingSize {
    previous: temporal::Previous,
    /// One per reference, and the references' weights, kept from frame to frame.
    predictions: Vec<Prediction>,
    weights: Vec<f32>,
}

impl WorkingSize {
    /// A new scene: nothing of the previous one carries over.
    pub fn start_scene(&mut self) {
        self.previous.clear();
    }

    /// Colours `working` (its lightness set) from the scene's references, each with the weight
    /// of its match with the scene (no references: neutral chroma). `predict(lightness,
    /// (width, height), reference, with_confidence, prediction)` runs the colorizer into
    /// `prediction`; the confidence is asked for when there are several references to fuse.
    pub fn colour<R, E>(
        &mut self,
        working: &mut WorkingColour,
        references: &[(&R, f32)],
        mut predict: impl FnMut(&[f32], (usize, usize), &R, bool, &mut Prediction) -> Result<(), E>,
        temporal_smoothing: f64,
    ) -> Result<(), E> {
        let (sw, sh) = working.size;
        let fused = references.len() > 1;
        self.predictions
            .resize_with(references.len(), Prediction::default);
        for (&(reference, _), prediction) in references.iter().zip(&mut self.predictions) {
            predict(&working.lightness, (sw, sh), reference, fused, prediction)?;
        }
        self.weights.clear();
        self.weights
            .extend(references.iter().map(|&(_, weight)| weight));
        if references.is_empty() {
            for plane in [&mut working.a, &mut working.b] {
                plane.clear();
                plane.resize(sw * sh, 0.0);
            }
        } else {
            fusion::fuse_into(
                &mut self.predictions,
                &self.weights,
                &mut working.a,
                &mut working.b,
            );
        }
        self.previous.stabilise(
            temporal_smoothing,
            &working.lightness,
            &mut working.a,
            &mut working.b,
        );
        Ok(())
    }
}

/// The whole chain on one thread, one frame after the other. What carries over from one frame
/// to the next: within a scene its colours, which temporal smoothing holds where the picture
/// stays still; within a stream the resampling weights and working planes, so that steady
/// state makes none.
#[derive(Default)]
pub struct FrameChain {
    pub full: FullSize,
    pub working: WorkingSize,
    pub small: WorkingColour,
}

impl FrameChain {
    /// A new scene: nothing of the previous one carries over.
    pub fn start_scene(&mut self) {
        self.working.start_scene();
    }

    /// Colours one frame from the scene's references (see [`WorkingSize::colour`]).
    pub fn colorize<R, E>(
        &mut self,
        frame: Lightness,
        references: &[(&R, f32)],
        predict: impl FnMut(&[f32], (usize, usize), &R, bool, &mut Prediction) -> Result<(), E>,
        settings: ChainSettings,
        target: Target,
    ) -> Result<StageTimes, E> {
        let started = Instant::now();
        self.small.size =
            self.full
                .shrink(frame, settings.inference_size, &mut self.small.lightness);
        let prepared = Instant::now();
        self.working.colour(
            &mut self.small,
            references,
            predict,
            settings.temporal_smoothing,
        )?;
        let inferred = Instant::now();
        let render_failure = self.full.render(frame, &self.small, target);
        Ok(StageTimes {
            working_size: self.small.size,
            resize: prepared - started,
            colorizer: inferred - prepared,
            render: inferred.elapsed(),
            render_failure,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::colorize::color::{Colorimetry, Matrix, Range, Transfer};

    const COLORIMETRY: Colorimetry = Colorimetry {
        range: Range::Limited,
        matrix: Matrix::Bt601,
        transfer: Transfer::Bt709,
    };

    /// Colours a flat 64x48 frame of L* 60 into I420 planes from `references` with `predict`;
    /// returns the working size and the Cb, Cr planes.
    fn colour_flat_frame<R>(
        chain: &mut FrameChain,
        references: &[(&R, f32)],
        predict: impl FnMut(&[f32], (usize, usize), &R, bool, &mut Prediction) -> Result<(), ()>,
        smoothing: f64,
    ) -> ((usize, usize), Vec<u8>, Vec<u8>) {
        let (width, height) = (64, 48);
        let lightness = vec![60.0f32; width * height];
        let convert = LabToVideo::new(COLORIMETRY);
        let mut luma = vec![0u8; width * height];
        let mut cb = vec![0u8; width * height / 4];
        let mut cr = vec![0u8; width * height / 4];
        let mut planes = OutputPlanes {
            planes: vec![
                (&mut luma, width),
                (&mut cb, width / 2),
                (&mut cr, width / 2),
            ],
        };
        let times = chain
            .colorize(
                Lightness {
                    data: &lightness,
                    width,
                    height,
                },
                references,
                predict,
                ChainSettings {
                    inference_size: 32,
                    temporal_smoothing: smoothing,
                },
                Target {
                    layout: OutputLayout::Planar { sub_x: 2, sub_y: 2 },
                    convert: &convert,
                    planes: &mut planes,
                },
            )
            .unwrap();
        assert!(
            luma.iter().all(|&y| y == 0),
            "the luma plane is the caller's"
        );
        (times.working_size, cb, cr)
    }

    /// A flat frame coloured from one reference whose prediction is `ab` everywhere (none:
    /// no reference).
    fn flat_frame(
        chain: &mut FrameChain,
        ab: Option<(f32, f32)>,
        smoothing: f64,
    ) -> ((usize, usize), Vec<u8>, Vec<u8>) {
        let reference = ();
        let references: Vec<(&(), f32)> = ab.iter().map(|_| (&reference, 1.0)).collect();
        colour_flat_frame(
            chain,
            &references,
            |small: &[f32], (w, h), _: &(), with_confidence, out: &mut Prediction| {
                assert_eq!(small.len(), w * h);
                assert!(!with_confidence, "one reference has nothing to fuse");
                let (a, b) = ab.unwrap();
                *out = Prediction {
                    a: vec![a; w * h],
                    b: vec![b; w * h],
                    confidence: Vec::new(),
                };
                Ok(())
            },
            smoothing,
        )
    }

    #[test]
    fn the_render_graph_takes_yuv_frames_whose_chroma_grows_from_the_working_size() {
        let i420 = OutputLayout::Planar { sub_x: 2, sub_y: 2 };
        let y444 = OutputLayout::Planar { sub_x: 1, sub_y: 1 };
        let small = render::working_size(1280, 720, 256);
        assert_eq!(small, (448, 256));
        assert_eq!(graph_chroma(i420, (1280, 720), small), Some(true));
        assert_eq!(
            graph_chroma(OutputLayout::SemiPlanar, (1920, 1080), small),
            Some(true)
        );
        assert_eq!(graph_chroma(y444, (640, 360), (448, 256)), Some(false));
        // A 640x360 frame's 4:2:0 chroma (320x180) is smaller than the prediction.
        assert_eq!(graph_chroma(i420, (640, 360), (448, 256)), None);
        assert_eq!(graph_chroma(i420, (1281, 720), small), None);
        assert_eq!(graph_chroma(y444, (448, 256), (448, 256)), None);
        let rgba = OutputLayout::Rgb {
            r: 0,
            g: 1,
            b: 2,
            alpha: Some(3),
            step: 4,
        };
        assert_eq!(graph_chroma(rgba, (1280, 720), small), None);
    }

    /// Writes a frame with edges and gradients, coloured from a prediction with its own, in
    /// `layout` and `colorimetry`, with `full` (its render graph, or none); returns the colour
    /// planes, Cb then Cr (or the interleaved plane).
    fn write_textured_frame(
        full: &mut FullSize,
        (width, height): (usize, usize),
        layout: OutputLayout,
        colorimetry: Colorimetry,
    ) -> Vec<Vec<u8>> {
        let lightness: Vec<f32> = (0..width * height)
            .map(|i| {
                let (x, y) = ((i % width) as f32, (i / width) as f32);
                let bars = if ((x / 37.0) as usize).is_multiple_of(2) {
                    25.0
                } else {
                    0.0
                };
                (10.0 + 60.0 * y / height as f32 + bars + 5.0 * (x / 9.0).sin()).clamp(0.0, 100.0)
            })
            .collect();
        let frame = Lightness {
            data: &lightness,
            width,
            height,
        };
        let mut working = WorkingColour::default();
        working.size = full.shrink(frame, 256, &mut working.lightness);
        let (sw, sh) = working.size;
        working.a = (0..sw * sh)
            .map(|i| 60.0 * ((i % sw) as f32 / 50.0).sin() + working.lightness[i] - 50.0)
            .collect();
        working.b = (0..sw * sh)
            .map(|i| 70.0 * ((i / sw) as f32 / 30.0).cos() - 10.0)
            .collect();
        let (cw, ch) = layout.chroma_size(width, height);
        let mut luma = vec![0u8; width * height];
        let mut colour: Vec<Vec<u8>> = match layout {
            OutputLayout::SemiPlanar => vec![vec![0; 2 * cw * ch]],
            _ => vec![vec![0; cw * ch], vec![0; cw * ch]],
        };
        let stride = if colour.len() == 1 { 2 * cw } else { cw };
        let mut planes = vec![(&mut luma[..], width)];
        planes.extend(colour.iter_mut().map(|plane| (&mut plane[..], stride)));
        let convert = LabToVideo::new(colorimetry);
        let failure = full.render(
            frame,
            &working,
            Target {
                layout,
                convert: &convert,
                planes: &mut OutputPlanes { planes },
            },
        );
        assert!(failure.is_none(), "{failure:?}");
        colour
    }

    #[test]
    fn the_render_graph_writes_the_colours_the_cpu_writes() {
        let dir = crate::colorize::inference::default_model_dir().unwrap();
        let graph = || {
            RenderModel::load(
                &dir.join(crate::colorize::inference::RENDER_FILE),
                &crate::colorize::inference::SessionOptions {
                    provider: crate::colorize::inference::Provider::Cpu,
                    device_id: 0,
                    strict: true,
                    threads: 2,
                },
            )
            .unwrap()
        };
        let full_range_srgb = Colorimetry {
            range: Range::Full,
            matrix: Matrix::Bt709,
            transfer: Transfer::Srgb,
        };
        let cases = [
            (
                (1280, 720),
                OutputLayout::Planar { sub_x: 2, sub_y: 2 },
                COLORIMETRY,
            ),
            ((1920, 1080), OutputLayout::SemiPlanar, full_range_srgb),
            (
                (640, 360),
                OutputLayout::Planar { sub_x: 1, sub_y: 1 },
                COLORIMETRY,
            ),
            // Sizes that are no multiple of the working size's: 1000x600 is coloured at
            // 432x256, and 1282x722's chroma grid has odd sides.
            (
                (1000, 600),
                OutputLayout::Planar { sub_x: 2, sub_y: 2 },
                full_range_srgb,
            ),
            ((1282, 722), OutputLayout::SemiPlanar, COLORIMETRY),
        ];
        for (size, layout, colorimetry) in cases {
            let small = render::working_size(size.0, size.1, 256);
            assert!(graph_chroma(layout, size, small).is_some(), "{size:?}");
            let on_cpu = write_textured_frame(&mut FullSize::default(), size, layout, colorimetry);
            let mut full = FullSize {
                graph: Some(graph()),
                ..FullSize::default()
            };
            let by_graph = write_textured_frame(&mut full, size, layout, colorimetry);
            assert!(full.graph.is_some());
            let samples: Vec<(u8, u8)> = on_cpu
                .iter()
                .flatten()
                .zip(by_graph.iter().flatten())
                .map(|(&c, &g)| (c, g))
                .collect();
            let largest = samples.iter().map(|&(c, g)| c.abs_diff(g)).max().unwrap();
            let differing = samples.iter().filter(|&&(c, g)| c != g).count();
            // Float sums in another order: a sample in tens of thousands lands on the other
            // side of a rounding (7 of 460 800 at 1280x720 I420 when this was written).
            assert!(largest <= 1, "{size:?} {layout:?}: {largest}");
            assert!(
                differing * 10_000 <= samples.len(),
                "{size:?} {layout:?}: {differing} of {}",
                samples.len()
            );
            // The colours are not flat: the test would see a graph that ignored the prediction.
            let distinct: std::collections::HashSet<u8> = by_graph[0].iter().copied().collect();
            assert!(distinct.len() > 40, "{}", distinct.len());
        }
    }

    #[test]
    fn a_frame_gets_its_references_colour_at_the_working_size() {
        let mut chain = FrameChain::default();
        let (size, cb, cr) = flat_frame(&mut chain, Some((30.0, -20.0)), 0.0);
        assert_eq!(size, (48, 32));
        let expected = LabToVideo::new(COLORIMETRY).cbcr8(60.0, 30.0, -20.0);
        assert!(cb.iter().all(|&v| v == expected[0]), "{:?}", &cb[..4]);
        assert!(cr.iter().all(|&v| v == expected[1]), "{:?}", &cr[..4]);
    }

    #[test]
    fn no_references_give_neutral_chroma() {
        let mut chain = FrameChain::default();
        let (_, cb, cr) = flat_frame(&mut chain, None, 0.35);
        let neutral = LabToVideo::new(COLORIMETRY).cbcr8(60.0, 0.0, 0.0);
        assert_eq!(neutral, [128, 128]);
        assert!(cb.iter().all(|&v| v == 128) && cr.iter().all(|&v| v == 128));
    }

    #[test]
    fn several_references_are_asked_for_their_confidence_and_fused_by_it() {
        // The first photo's a* with a confidence far above the second's: the fused colour is
        // the first's.
        let references = [(&(40.0f32, 0.9f32), 0.5), (&(-40.0, 0.1), 0.5)];
        let mut asked = Vec::new();
        let (_, _, cr) = colour_flat_frame(
            &mut FrameChain::default(),
            &references,
            |_: &[f32],
             (w, h),
             &(a, confidence): &(f32, f32),
             with_confidence,
             out: &mut Prediction| {
                asked.push(with_confidence);
                *out = Prediction {
                    a: vec![a; w * h],
                    b: vec![0.0; w * h],
                    confidence: vec![confidence; w * h],
                };
                Ok(())
            },
            0.0,
        );
        assert_eq!(asked, [true, true]);
        let expected = LabToVideo::new(COLORIMETRY).cbcr8(60.0, 40.0, 0.0);
        assert!(cr.iter().all(|&v| v == expected[1]), "{:?}", &cr[..4]);
    }

    #[test]
    fn colours_carry_over_within_a_scene_and_not_across_scenes() {
        let mut chain = FrameChain::default();
        let (_, first, _) = flat_frame(&mut chain, Some((30.0, 0.0)), 0.5);
        // The picture did not change: half of the previous frame's colour is kept.
        let (_, held, _) = flat_frame(&mut chain, Some((-30.0, 0.0)), 0.5);
        chain.start_scene();
        let (_, fresh, _) = flat_frame(&mut chain, Some((-30.0, 0.0)), 0.5);
        let convert = LabToVideo::new(COLORIMETRY);
        assert_eq!(first[0], convert.cbcr8(60.0, 30.0, 0.0)[0]);
        assert_eq!(held[0], convert.cbcr8(60.0, 0.0, 0.0)[0]);
        assert_eq!(fresh[0], convert.cbcr8(60.0, -30.0, 0.0)[0]);
    }
}
