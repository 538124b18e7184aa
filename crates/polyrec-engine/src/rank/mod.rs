//! Ranking models, one file each. This build has the weighted feature ranker; trained models
//! (LightGBM, DeepFM, Wide&Deep) are planned names in the registry.

pub mod weighted;
