// SPDX-License-Identifier: MIT OR Apache-2.0

//! A scene plan: where each scene of a film starts and which photos colour it. A choosing pass
//! over the whole film writes it (`mode=plan`); colorizing passes over ranges of whole scenes
//! follow it, so a film split across machines is coloured frame for frame as one pass would
//! colour it: the references, scene memory included, are decided once, in film order.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The plan format this build reads and writes.
pub const PLAN_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub version: u32,
    /// Scenes in film order, their `pts` strictly increasing.
    pub scenes: Vec<PlannedScene>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedScene {
    /// The scene's number in the choosing pass (`scene-change`'s numbering).
    pub scene: u32,
    /// Its first frame, counted from the start of the film.
    pub frame: u64,
    /// That frame's presentation timestamp in nanoseconds: what a pass over part of the film
    /// finds it by.
    pub pts: u64,
    /// The photos colouring it with their similarity to the scene's first frame, which weighs
    /// them; empty for a scene left grey; `None` for a scene that started in colour and passed
    /// through with no reference.
    pub references: Option<Vec<PlannedReference>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedReference {
    pub path: PathBuf,
    pub similarity: f32,
}

#[derive(Debug)]
pub enum PlanError {
    Unreadable(std::io::Error),
    Malformed(String),
    Version(u32),
    Unordered { scene: u32, pts: u64 },
    Empty,
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlanError::Unreadable(err) => write!(f, "cannot read it: {err}"),
            PlanError::Malformed(why) => write!(f, "it is not a scene plan: {why}"),
            PlanError::Version(version) => write!(
                f,
                "it is a version {version} plan and this build reads version {PLAN_VERSION}: \
                 make it again with mode=plan"
            ),
            PlanError::Unordered { scene, pts } => write!(
                f,
                "scene {scene} (pts {pts} ns) does not start after the scene before it"
            ),
            PlanError::Empty => write!(f, "it has no scenes"),
        }
    }
}

impl Plan {
    pub fn new(scenes: Vec<PlannedScene>) -> Plan {
        Plan {
            version: PLAN_VERSION,
            scenes,
        }
    }

    pub fn from_json(text: &str) -> Result<Plan, PlanError> {
        let plan: Plan =
            serde_json::from_str(text).map_err(|err| PlanError::Malformed(err.to_string()))?;
        if plan.version != PLAN_VERSION {
            return Err(PlanError::Version(plan.version));
        }
        if plan.scenes.is_empty() {
            return Err(PlanError::Empty);
        }
        if let Some(pair) = plan
            .scenes
            .windows(2)
            .find(|pair| pair[1].pts <= pair[0].pts)
        {
            return Err(PlanError::Unordered {
                scene: pair[1].scene,
                pts: pair[1].pts,
            });
        }
        Ok(plan)
    }

    pub fn to_json(&self) -> String {
        // Serialising plain structs of numbers, strings and paths cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    pub fn read(path: &Path) -> Result<Plan, PlanError> {
        let text = std::fs::read_to_string(path).map_err(PlanError::Unreadable)?;
        Plan::from_json(&text)
    }

    /// Index of the scene a frame at `pts` belongs to: the last one starting at or before it;
    /// `None` before the first.
    pub fn scene_at(&self, pts: u64) -> Option<usize> {
        self.scenes
            .partition_point(|scene| scene.pts <= pts)
            .checked_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scene(scene: u32, frame: u64, pts: u64, references: Option<&[(&str, f32)]>) -> PlannedScene {
        PlannedScene {
            scene,
            frame,
            pts,
            references: references.map(|refs| {
                refs.iter()
                    .map(|&(path, similarity)| PlannedReference {
                        path: PathBuf::from(path),
                        similarity,
                    })
                    .collect()
            }),
        }
    }

    fn film() -> Plan {
        Plan::new(vec![
            scene(0, 0, 0, Some(&[("a.jpg", 0.8123457)])),
            scene(1, 50, 2_000_000_000, None),
            scene(
                2,
                75,
                3_000_000_000,
                Some(&[("b.jpg", 0.5), ("c.jpg", 0.1 + 0.2)]),
            ),
            scene(3, 80, 3_200_000_000, Some(&[])),
        ])
    }

    #[test]
    fn round_trips_through_json_exactly() {
        let plan = film();
        assert_eq!(Plan::from_json(&plan.to_json()).unwrap(), plan);
    }

    #[test]
    fn a_frame_belongs_to_the_last_scene_started_at_or_before_it() {
        let plan = film();
        assert_eq!(plan.scene_at(0), Some(0));
        assert_eq!(plan.scene_at(1_999_999_999), Some(0));
        assert_eq!(plan.scene_at(2_000_000_000), Some(1));
        assert_eq!(plan.scene_at(3_199_999_999), Some(2));
        assert_eq!(plan.scene_at(u64::MAX), Some(3));
        let late_start = Plan::new(vec![scene(0, 0, 40, None)]);
        assert_eq!(late_start.scene_at(39), None);
    }

    #[test]
    fn refuses_plans_it_cannot_follow() {
        let mut unordered = film();
        unordered.scenes[2].pts = 2_000_000_000;
        assert!(matches!(
            Plan::from_json(&unordered.to_json()),
            Err(PlanError::Unordered {
                scene: 2,
                pts: 2_000_000_000
            })
        ));
        let mut future = film();
        future.version = PLAN_VERSION + 1;
        assert!(matches!(
            Plan::from_json(&future.to_json()),
            Err(PlanError::Version(v)) if v == PLAN_VERSION + 1
        ));
        assert!(matches!(
            Plan::from_json(&Plan::new(Vec::new()).to_json()),
            Err(PlanError::Empty)
        ));
        assert!(matches!(
            Plan::from_json("{\"version\": 1}"),
            Err(PlanError::Malformed(_))
        ));
    }
}
