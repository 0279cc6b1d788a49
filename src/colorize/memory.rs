// SPDX-License-Identifier: MIT OR Apache-2.0

//! Scene memory: the scenes a stream has shown, so that a return to a place or a reverse shot
//! gets the reference it had before instead of whichever photo happens to be nearest now.

use std::collections::VecDeque;

use super::index::dot;

/// A scene as the memory keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Remembered<R> {
    pub scene: u32,
    /// L2-normalised retrieval embedding of the scene's first frame.
    pub embedding: Vec<f32>,
    pub reference: R,
}

/// The most similar earlier scene, when it is similar enough.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recall<'a, R> {
    pub scene: &'a Remembered<R>,
    /// Cosine similarity of the two scenes' embeddings.
    pub similarity: f32,
}

/// The last `capacity` scenes of a stream, oldest first.
#[derive(Debug, Clone)]
pub struct SceneMemory<R> {
    scenes: VecDeque<Remembered<R>>,
    capacity: usize,
}

impl<R> SceneMemory<R> {
    pub fn new(capacity: usize) -> Self {
        SceneMemory {
            scenes: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    pub fn len(&self) -> usize {
        self.scenes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scenes.is_empty()
    }

    pub fn clear(&mut self) {
        self.scenes.clear();
    }

    /// The earlier scene most similar to `embedding` (the latest one wins a tie), if its cosine
    /// similarity reaches `threshold`. Embeddings of another length are never similar.
    pub fn recall(&self, embedding: &[f32], threshold: f32) -> Option<Recall<'_, R>> {
        self.scenes
            .iter()
            .filter(|s| s.embedding.len() == embedding.len())
            .map(|scene| Recall {
                scene,
                similarity: dot(&scene.embedding, embedding),
            })
            .filter(|r| r.similarity >= threshold)
            .fold(None, |best: Option<Recall<'_, R>>, r| match best {
                Some(b) if b.similarity > r.similarity => Some(b),
                _ => Some(r),
            })
    }

    /// Adds a scene, forgetting the oldest beyond the capacity.
    pub fn remember(&mut self, scene: u32, embedding: Vec<f32>, reference: R) {
        if self.scenes.len() == self.capacity {
            self.scenes.pop_front();
        }
        self.scenes.push_back(Remembered {
            scene,
            embedding,
            reference,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(angle: f32) -> Vec<f32> {
        vec![angle.cos(), angle.sin()]
    }

    #[test]
    fn recalls_the_most_similar_scene_above_the_threshold() {
        let mut memory = SceneMemory::new(8);
        assert!(memory.recall(&unit(0.0), 0.5).is_none());
        memory.remember(0, unit(0.0), "street");
        memory.remember(1, unit(1.2), "sea");
        memory.remember(2, unit(0.3), "cafe");

        let recall = memory.recall(&unit(0.25), 0.9).expect("cafe is close");
        assert_eq!(recall.scene.reference, "cafe");
        assert!((recall.similarity - 0.05f32.cos()).abs() < 1e-6);

        // cos(0.6) = 0.825: the nearest scene is not similar enough.
        assert!(memory.recall(&unit(-0.6), 0.9).is_none());
        assert_eq!(
            memory.recall(&unit(-0.6), 0.8).map(|r| r.scene.scene),
            Some(0)
        );
        assert!(memory.recall(&[1.0, 0.0, 0.0], 0.0).is_none());
    }

    #[test]
    fn the_latest_of_equally_similar_scenes_wins() {
        let mut memory = SceneMemory::new(8);
        memory.remember(0, unit(0.0), "first");
        memory.remember(5, unit(0.0), "again");
        assert_eq!(
            memory.recall(&unit(0.0), 0.99).map(|r| r.scene.scene),
            Some(5)
        );
    }

    #[test]
    fn forgets_the_oldest_scenes_beyond_its_capacity() {
        let mut memory = SceneMemory::new(2);
        memory.remember(0, unit(0.0), "a");
        memory.remember(1, unit(1.0), "b");
        memory.remember(2, unit(2.0), "c");
        assert_eq!(memory.len(), 2);
        assert!(memory.recall(&unit(0.0), 0.99).is_none());
        assert_eq!(
            memory.recall(&unit(2.0), 0.99).map(|r| r.scene.reference),
            Some("c")
        );
        memory.clear();
        assert!(memory.is_empty());
    }
}
