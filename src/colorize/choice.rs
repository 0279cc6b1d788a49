// SPDX-License-Identifier: MIT OR Apache-2.0

//! Which photos a scene is coloured from: the library's ranking of the scene's first frame
//! (shortlist and re-ranking), scene memory (a scene like an earlier one takes that scene's
//! references), top-k, and what happens when the best photo scores below `min-score`; and the
//! bounded cache of encoded references the scenes share. Free of GStreamer and of the models:
//! the element hands in the frame's descriptor and the library's index, and logs, posts and
//! encodes what comes back.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::descriptor::Descriptor;
use super::index::{self, Index};
use super::memory::SceneMemory;
use super::retrieval;

/// Scenes remembered per stream for scene memory (the latest ones): a feature film's worth,
/// about 5 MiB of embeddings.
pub const REMEMBERED_SCENES: usize = 1024;

/// What a scene gets when its best candidate scores below `min_score`.
#[derive(Debug, Clone, PartialEq)]
pub enum BelowMinScore {
    /// The previous scene's references (the first scene has none: it stays grey).
    KeepPrevious,
    /// This photo.
    Photo(PathBuf),
    /// None: the scene stays grey.
    Grey,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChoiceSettings {
    /// References fused per scene.
    pub top_k: usize,
    /// Photos the global embedding shortlists for re-ranking.
    pub candidates: usize,
    pub scene_memory: bool,
    /// Cosine similarity from which a scene counts as a return to an earlier one.
    pub scene_memory_threshold: f32,
    /// Re-ranking score below which the best photo is not trusted; 0 trusts every photo.
    pub min_score: f64,
    pub below_min_score: BelowMinScore,
}

impl ChoiceSettings {
    /// How many photos the frame is ranked against: never fewer than the references it needs.
    pub fn shortlist(&self) -> usize {
        self.candidates.max(self.top_k).max(1)
    }
}

/// One photo of the re-ranked shortlist.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    pub path: PathBuf,
    /// What the shortlist is ordered by (see `retrieval::rank`).
    pub score: f32,
    /// Cosine similarity of the global embeddings.
    pub similarity: f32,
    /// The local match score, where both sides have local descriptors.
    pub local: Option<f32>,
}

impl Ranked {
    /// A photo given rather than ranked (a fixed reference, a plan's): its weight is all it has.
    pub fn given(path: PathBuf, similarity: f32) -> Self {
        Ranked {
            path,
            score: similarity,
            similarity,
            local: None,
        }
    }
}

/// The references a scene gets, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// Paths with their similarity to the scene's first frame, best first; empty for a grey
    /// scene; `None` to keep the previous scene's.
    pub references: Option<Vec<(PathBuf, f32)>>,
    /// The earlier scene whose references are reused.
    pub reused_from: Option<u32>,
    /// The shortlist, re-ranked, best first.
    pub ranked: Vec<Ranked>,
    /// False when the best score was below `min_score` (and no earlier scene was recalled).
    pub confident: bool,
    /// The most similar earlier scene and its similarity, whether or not it was similar enough.
    pub most_similar: Option<(u32, f32)>,
}

impl Choice {
    /// References given rather than chosen (a plan's, with their weights), none for a grey
    /// scene.
    pub fn given(references: Vec<(PathBuf, f32)>) -> Self {
        Choice {
            ranked: references
                .iter()
                .map(|(path, similarity)| Ranked::given(path.clone(), *similarity))
                .collect(),
            references: Some(references),
            reused_from: None,
            confident: true,
            most_similar: None,
        }
    }

    /// One photo for every scene, without a library.
    pub fn fixed(path: PathBuf) -> Self {
        Choice::given(vec![(path, 1.0)])
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChoiceError {
    /// The frame's descriptor and the index were made by different encoders.
    IndexDoesNotFit,
}

/// Chooses each scene's references, remembering the scenes of the stream.
#[derive(Debug, Clone)]
pub struct ReferenceChooser {
    /// Earlier scenes with the index entries of their references.
    memory: SceneMemory<Vec<usize>>,
}

impl Default for ReferenceChooser {
    fn default() -> Self {
        ReferenceChooser {
            memory: SceneMemory::new(REMEMBERED_SCENES),
        }
    }
}

impl ReferenceChooser {
    /// Forgets the stream's scenes (a flush: what follows need not be the same film).
    pub fn forget(&mut self) {
        self.memory.clear();
    }

    /// The references of `scene`, whose first frame is described by `frame`, from the library
    /// at `root` indexed by `index`.
    pub fn choose(
        &mut self,
        scene: u32,
        frame: Descriptor,
        index: &Index,
        root: &Path,
        settings: &ChoiceSettings,
    ) -> Result<Choice, ChoiceError> {
        let ranked = retrieval::rank(index, &frame, settings.shortlist());
        let Some(best) = ranked.first() else {
            return Err(ChoiceError::IndexDoesNotFit);
        };
        let most_similar = self
            .memory
            .recall(&frame.global, f32::NEG_INFINITY)
            .map(|r| (r.scene.scene, r.scene.reference.clone(), r.similarity));
        let recalled = most_similar.as_ref().filter(|(_, entries, similarity)| {
            settings.scene_memory
                && *similarity >= settings.scene_memory_threshold
                // An index rebuilt since has other entries.
                && entries.iter().all(|&e| e < index.len())
        });
        let chosen: Vec<(usize, f32)> = match recalled {
            Some((_, entries, _)) => entries
                .iter()
                .map(|&e| (e, index::dot(index.embedding(e), &frame.global)))
                .collect(),
            None => ranked
                .iter()
                .take(settings.top_k.max(1))
                .map(|c| (c.entry, c.similarity))
                .collect(),
        };
        let reused_from = recalled.map(|&(earlier, _, _)| earlier);
        let path = |entry: usize| root.join(&index.key(entry).path);
        let confident = reused_from.is_some()
            || settings.min_score <= 0.0
            || f64::from(best.score) >= settings.min_score;
        let references = if confident {
            Some(chosen.iter().map(|&(e, s)| (path(e), s)).collect())
        } else {
            match &settings.below_min_score {
                BelowMinScore::KeepPrevious if scene > 0 => None,
                BelowMinScore::Photo(photo) => Some(vec![(photo.clone(), 1.0)]),
                _ => Some(Vec::new()),
            }
        };
        let ranked = ranked
            .iter()
            .map(|c| Ranked {
                path: path(c.entry),
                score: c.score,
                similarity: c.similarity,
                local: c.local,
            })
            .collect();
        let most_similar = most_similar.map(|(earlier, _, similarity)| (earlier, similarity));
        if confident {
            let entries = chosen.iter().map(|&(e, _)| e).collect();
            self.memory.remember(scene, frame.global, entries);
        }
        Ok(Choice {
            references,
            reused_from,
            ranked,
            confident,
            most_similar,
        })
    }
}

/// Encoded references by path, shared by `Arc` with the scenes that use them, so that a return
/// to a photo costs nothing; the least recently used go beyond `capacity`.
#[derive(Debug)]
pub struct ReferenceCache<T> {
    capacity: usize,
    entries: HashMap<PathBuf, (Arc<T>, u64)>,
    uses: u64,
}

impl<T> ReferenceCache<T> {
    pub fn new(capacity: usize) -> Self {
        ReferenceCache {
            capacity: capacity.max(1),
            entries: HashMap::new(),
            uses: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&mut self, path: &Path) -> Option<Arc<T>> {
        self.uses += 1;
        let uses = self.uses;
        self.entries.get_mut(path).map(|(encoded, last_use)| {
            *last_use = uses;
            encoded.clone()
        })
    }

    pub fn insert(&mut self, path: PathBuf, encoded: Arc<T>) {
        self.uses += 1;
        if !self.entries.contains_key(&path) && self.entries.len() >= self.capacity {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, (_, last_use))| *last_use)
                .map(|(path, _)| path.clone());
            if let Some(oldest) = oldest {
                self.entries.remove(&oldest);
            }
        }
        self.entries.insert(path, (encoded, self.uses));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::colorize::descriptor::LocalFeatures;
    use crate::colorize::index::PhotoKey;

    fn key(name: &str) -> PhotoKey {
        PhotoKey {
            path: PathBuf::from(name),
            size: 1,
            modified_secs: 1,
            modified_nanos: 0,
        }
    }

    fn global(embedding: &[f32]) -> Descriptor {
        Descriptor {
            global: index::normalized(embedding),
            local: LocalFeatures::empty(2),
        }
    }

    /// Three photos: a street, a field, and a street seen a little more from the side.
    fn library() -> Index {
        let mut index = Index::new([0; 32], 3, 2);
        index.push(key("street.jpg"), &global(&[1.0, 0.0, 0.0]));
        index.push(key("field.jpg"), &global(&[0.0, 1.0, 0.0]));
        index.push(key("street-side.jpg"), &global(&[1.0, 0.4, 0.0]));
        index
    }

    fn settings() -> ChoiceSettings {
        ChoiceSettings {
            top_k: 1,
            candidates: 20,
            scene_memory: true,
            scene_memory_threshold: 0.8,
            min_score: 0.0,
            below_min_score: BelowMinScore::KeepPrevious,
        }
    }

    fn paths(choice: &Choice) -> Option<Vec<String>> {
        choice.references.as_ref().map(|references| {
            references
                .iter()
                .map(|(path, _)| path.to_string_lossy().into_owned())
                .collect()
        })
    }

    #[test]
    fn takes_the_best_ranked_photos_and_reports_the_shortlist() {
        let mut chooser = ReferenceChooser::default();
        let index = library();
        let top_two = ChoiceSettings {
            top_k: 2,
            ..settings()
        };
        let choice = chooser
            .choose(
                0,
                global(&[1.0, 0.1, 0.0]),
                &index,
                Path::new("/refs"),
                &top_two,
            )
            .unwrap();
        assert_eq!(
            paths(&choice),
            Some(vec![
                "/refs/street.jpg".to_string(),
                "/refs/street-side.jpg".to_string()
            ])
        );
        assert_eq!(choice.ranked.len(), 3);
        assert_eq!(choice.ranked[2].path, PathBuf::from("/refs/field.jpg"));
        assert!(choice.confident);
        assert_eq!(choice.reused_from, None);
        assert_eq!(choice.most_similar, None);
        // Without local descriptors the score is the global similarity.
        assert_eq!(choice.ranked[0].score, choice.ranked[0].similarity);
        assert_eq!(
            choice.references.as_ref().unwrap()[0].1,
            choice.ranked[0].similarity
        );
    }

    #[test]
    fn a_scene_like_an_earlier_one_takes_its_references() {
        let mut chooser = ReferenceChooser::default();
        let index = library();
        let root = Path::new("/refs");
        // Nearest to street-side.
        let first = chooser
            .choose(0, global(&[1.0, 0.5, 0.0]), &index, root, &settings())
            .unwrap();
        assert_eq!(
            paths(&first),
            Some(vec!["/refs/street-side.jpg".to_string()])
        );
        chooser
            .choose(1, global(&[0.0, 1.0, 0.1]), &index, root, &settings())
            .unwrap();
        // Nearer to street than to street-side, but like scene 0.
        let back = chooser
            .choose(2, global(&[1.0, 0.1, 0.0]), &index, root, &settings())
            .unwrap();
        assert_eq!(back.reused_from, Some(0));
        assert_eq!(
            paths(&back),
            Some(vec!["/refs/street-side.jpg".to_string()])
        );
        assert_eq!(back.ranked[0].path, PathBuf::from("/refs/street.jpg"));
        let (earlier, similarity) = back.most_similar.unwrap();
        assert_eq!(earlier, 0);
        assert!(similarity > 0.93 && similarity < 0.94, "{similarity}");
        // The same without scene memory: the nearest photo, the memory still consulted.
        let mut forgetful = ReferenceChooser::default();
        let off = ChoiceSettings {
            scene_memory: false,
            ..settings()
        };
        forgetful
            .choose(0, global(&[1.0, 0.5, 0.0]), &index, root, &off)
            .unwrap();
        let nearest = forgetful
            .choose(1, global(&[1.0, 0.1, 0.0]), &index, root, &off)
            .unwrap();
        assert_eq!(nearest.reused_from, None);
        assert_eq!(nearest.most_similar.map(|(scene, _)| scene), Some(0));
        assert_eq!(paths(&nearest), Some(vec!["/refs/street.jpg".to_string()]));
        // And after a flush nothing is recalled.
        chooser.forget();
        let after = chooser
            .choose(3, global(&[1.0, 0.1, 0.0]), &index, root, &settings())
            .unwrap();
        assert_eq!((after.reused_from, after.most_similar), (None, None));
    }

    #[test]
    fn below_min_score_keeps_falls_back_or_stays_grey_and_remembers_nothing() {
        let index = library();
        let mut chooser = ReferenceChooser::default();
        let mut choose = |scene, embedding: &[f32], below_min_score| {
            let strict = ChoiceSettings {
                min_score: 0.5,
                below_min_score,
                ..settings()
            };
            chooser
                .choose(
                    scene,
                    global(embedding),
                    &index,
                    Path::new("/refs"),
                    &strict,
                )
                .unwrap()
        };
        // Unlike every photo: similarity 0 with each.
        let unrelated = [0.0, 0.0, 1.0];
        let first = choose(0, &unrelated, BelowMinScore::KeepPrevious);
        // The first scene has nothing to keep: grey.
        assert_eq!(paths(&first), Some(vec![]));
        assert!(!first.confident);
        let later = choose(1, &unrelated, BelowMinScore::KeepPrevious);
        assert_eq!(paths(&later), None);
        // Nothing was remembered from the unconfident scenes.
        assert_eq!(later.most_similar, None);
        let photo = PathBuf::from("/photos/any.jpg");
        let fallback = choose(2, &unrelated, BelowMinScore::Photo(photo.clone()));
        assert_eq!(fallback.references, Some(vec![(photo, 1.0)]));
        let grey = choose(3, &unrelated, BelowMinScore::Grey);
        assert_eq!(paths(&grey), Some(vec![]));
        // A photo that scores enough is taken.
        let street = choose(4, &[1.0, 0.0, 0.1], BelowMinScore::Grey);
        assert!(street.confident);
        assert_eq!(paths(&street), Some(vec!["/refs/street.jpg".to_string()]));
    }

    #[test]
    fn an_index_of_another_encoder_is_refused() {
        let mut chooser = ReferenceChooser::default();
        let wrong_size = Descriptor {
            global: vec![1.0, 0.0],
            local: LocalFeatures::empty(2),
        };
        assert_eq!(
            chooser.choose(0, wrong_size, &library(), Path::new("/refs"), &settings()),
            Err(ChoiceError::IndexDoesNotFit)
        );
    }

    #[test]
    fn the_cache_shares_encodings_and_forgets_the_least_recently_used() {
        let mut cache = ReferenceCache::new(2);
        let a = Arc::new(1);
        cache.insert(PathBuf::from("a"), a.clone());
        cache.insert(PathBuf::from("b"), Arc::new(2));
        // Shared, not copied.
        assert!(Arc::ptr_eq(&cache.get(Path::new("a")).unwrap(), &a));
        // "b" is now the least recently used.
        cache.insert(PathBuf::from("c"), Arc::new(3));
        assert_eq!(cache.len(), 2);
        assert!(cache.get(Path::new("b")).is_none());
        assert_eq!(cache.get(Path::new("a")).as_deref(), Some(&1));
        assert_eq!(cache.get(Path::new("c")).as_deref(), Some(&3));
        // Replacing an entry evicts nothing.
        cache.insert(PathBuf::from("c"), Arc::new(4));
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get(Path::new("a")).as_deref(), Some(&1));
        assert_eq!(cache.get(Path::new("c")).as_deref(), Some(&4));
        // An evicted encoding lives on where it is still used.
        cache.insert(PathBuf::from("d"), Arc::new(5));
        assert_eq!(*a, 1);
        assert!(!cache.is_empty());
    }
}
