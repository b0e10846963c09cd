//! Whole numbers in request bodies as JSON Schema counts them: `81` and `81.0` alike (an
//! `integer` is any number with a zero fractional part). serde alone refuses `81.0` for an
//! integer field, which would turn a request the API document calls valid into a 400.
//!
//! `#[serde(deserialize_with = "hybridpost_core::whole_number::deserialize")]` on an integer
//! field; `#[serde(default, deserialize_with = "hybridpost_core::whole_number::option")]` on an
//! `Option` of one.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserializer;
use serde::de::{self, Unexpected, Visitor};

/// The largest float whose every whole value is exact.
const EXACT_FLOAT: f64 = 9_007_199_254_740_992.0;

struct Whole<T>(PhantomData<T>);

impl<T: TryFrom<i64>> Visitor<'_> for Whole<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a whole number")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        T::try_from(v).map_err(|_| E::invalid_value(Unexpected::Signed(v), &"a number in range"))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        let signed = i64::try_from(v).map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &"a number in range"))?;
        self.visit_i64(signed)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        if v.fract() == 0.0 && v.abs() <= EXACT_FLOAT {
            self.visit_i64(v as i64)
        } else {
            Err(E::invalid_type(Unexpected::Float(v), &self))
        }
    }
}

/// A whole number, written with or without a zero fraction.
pub fn deserialize<'de, D: Deserializer<'de>, T: TryFrom<i64>>(d: D) -> Result<T, D::Error> {
    d.deserialize_any(Whole(PhantomData))
}

struct MaybeWhole<T>(PhantomData<T>);

impl<'de, T: TryFrom<i64>> Visitor<'de> for MaybeWhole<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a whole number or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Option<T>, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<T>, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
        deserialize(d).map(Some)
    }
}

/// A whole number or `null`.
pub fn option<'de, D: Deserializer<'de>, T: TryFrom<i64>>(d: D) -> Result<Option<T>, D::Error> {
    d.deserialize_option(MaybeWhole(PhantomData))
}

#[cfg(test)]
mod tests {
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Body {
        #[serde(deserialize_with = "super::deserialize")]
        n: u8,
        #[serde(default, deserialize_with = "super::option")]
        m: Option<u32>,
    }

    fn read(json: &str) -> Result<Body, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn whole_numbers_with_or_without_a_fraction_are_read_and_the_rest_refused() {
        assert_eq!(read(r#"{"n": 81, "m": 7}"#), Ok(Body { n: 81, m: Some(7) }));
        assert_eq!(read(r#"{"n": 81.0, "m": 7.0}"#), Ok(Body { n: 81, m: Some(7) }));
        assert_eq!(read(r#"{"n": 3, "m": null}"#), Ok(Body { n: 3, m: None }));
        assert_eq!(read(r#"{"n": 3}"#), Ok(Body { n: 3, m: None }));
        for bad in [r#"{"n": 81.5}"#, r#"{"n": 256}"#, r#"{"n": -1}"#, r#"{"n": "3"}"#, r#"{"n": 1e300}"#] {
            assert!(read(bad).is_err(), "{bad} is refused");
        }
    }
}
