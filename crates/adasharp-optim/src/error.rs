//! Errors raised when an optimizer configuration is turned into an optimizer.

/// A hyperparameter outside its allowed range, found when an optimizer is built.
///
/// The message names the optimizer, the field, the offending value and what is allowed, so a
/// user reading it from a CLI or a log can fix the config without opening the docs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid {optimizer} config: `{field}` = {value} is not allowed; expected {allowed}")]
pub struct ConfigError {
    /// The optimizer whose configuration is invalid (e.g. `"Adam-mini"`).
    pub optimizer: &'static str,
    /// The name of the offending field, as spelled in the config struct.
    pub field: &'static str,
    /// The offending value, formatted for display.
    pub value: String,
    /// A description of the allowed values.
    pub allowed: &'static str,
}

impl ConfigError {
    pub(crate) fn new(
        optimizer: &'static str,
        field: &'static str,
        value: impl std::fmt::Display,
        allowed: &'static str,
    ) -> Self {
        Self {
            optimizer,
            field,
            value: value.to_string(),
            allowed,
        }
    }
}

/// Checks that a decay rate lies in `[0, 1)`.
pub(crate) fn check_beta(
    optimizer: &'static str,
    field: &'static str,
    value: f64,
) -> Result<(), ConfigError> {
    if value.is_finite() && (0.0..1.0).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::new(
            optimizer,
            field,
            value,
            "a number in [0, 1)",
        ))
    }
}

/// Checks that a damping constant is finite and strictly positive.
pub(crate) fn check_epsilon(
    optimizer: &'static str,
    field: &'static str,
    value: f64,
) -> Result<(), ConfigError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(ConfigError::new(
            optimizer,
            field,
            value,
            "a finite number > 0",
        ))
    }
}

/// Checks that a weight-decay coefficient is finite and non-negative.
pub(crate) fn check_weight_decay(optimizer: &'static str, value: f64) -> Result<(), ConfigError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(ConfigError::new(
            optimizer,
            "weight_decay",
            value,
            "a finite number >= 0",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_names_field_value_and_allowed_range() {
        let err = check_beta("Adam-mini", "beta_2", 1.0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid Adam-mini config: `beta_2` = 1 is not allowed; expected a number in [0, 1)"
        );
    }

    #[test]
    fn nan_and_non_positive_epsilon_are_rejected() {
        assert!(check_epsilon("AdamE", "epsilon", f64::NAN).is_err());
        assert!(check_epsilon("AdamE", "epsilon", 0.0).is_err());
        assert!(check_epsilon("AdamE", "epsilon", f64::INFINITY).is_err());
        assert!(check_epsilon("AdamE", "epsilon", 1e-8).is_ok());
    }
}
