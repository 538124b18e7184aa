//! Ranking models, one file each: the weighted feature ranker, which needs no training, and the
//! learned rankers (LightGBM, DeepFM, Wide&Deep), trained by a job and served from the
//! scenario's model snapshot, and the interaction ranker, learned from interactions on the
//! recall candidates.

pub mod interaction;
pub mod learned;
pub mod weighted;
