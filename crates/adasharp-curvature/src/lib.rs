//! Curvature and sharpness measurement for any Burn model.
