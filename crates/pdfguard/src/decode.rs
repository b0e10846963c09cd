//! Stream data decoded with lopdf's filters, after a look at the parameters that make lopdf
//! allocate before it reads any data: a PNG predictor's row (`/Columns` × `/Colors` ×
//! `/BitsPerComponent`) is allocated twice, at once and zero-filled, whatever the data says.

use lopdf::{Object, Stream};

use crate::GuardError;

/// Checks that decoding `stream` cannot allocate more than `limit` bytes up front: lopdf's
/// `decompress_predictor` reserves two rows of the size the decode parameters give.
pub(crate) fn check_parameters(stream: &Stream, limit: usize) -> Result<(), GuardError> {
    // lopdf reads the parameters only when /DecodeParms is a dictionary.
    let Some(params) = stream.dict.get(b"DecodeParms").ok().and_then(|p| p.as_dict().ok()) else { return Ok(()) };
    let get = |key: &[u8], default: i64| params.get(key).and_then(Object::as_i64).unwrap_or(default);
    let predictor = get(b"Predictor", 1);
    if !(10..=15).contains(&predictor) {
        return Ok(());
    }
    let colors = get(b"Colors", 1).max(1) as u128;
    let bits = get(b"BitsPerComponent", 8).max(8) as u128;
    let columns = get(b"Columns", 1).max(1) as u128;
    let row = colors * bits / 8 * columns;
    if row > limit as u128 {
        return Err(GuardError::StreamParameters(format!(
            "a stream's decode parameters ask for rows of {row} bytes (/Columns {columns}, /Colors {colors}); the limit is {limit} bytes"
        )));
    }
    Ok(())
}

/// The decoded data of `stream` (its filters undone, lopdf's way, as
/// `Stream::get_plain_content_with_limit`), refused when it would be larger than `limit`
/// bytes or when its parameters alone would make lopdf allocate more. A stream without
/// filters is its data.
pub fn decode_stream(stream: &Stream, limit: usize) -> Result<Vec<u8>, GuardError> {
    if !stream.filters().is_ok_and(|f| !f.is_empty()) {
        if stream.content.len() > limit {
            return Err(GuardError::StreamTooLarge { limit: limit as u64 });
        }
        return Ok(stream.content.clone());
    }
    check_parameters(stream, limit)?;
    stream.decompressed_content_with_limit(limit).map_err(|e| match e {
        lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded { .. }) => {
            GuardError::StreamTooLarge { limit: limit as u64 }
        }
        other => GuardError::Unreadable(other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use lopdf::Dictionary;

    use super::*;

    #[test]
    fn a_predictor_row_beyond_the_limit_is_refused_before_lopdf_allocates_it() {
        let params = Dictionary::from_iter([("Predictor", Object::Integer(12)), ("Columns", Object::Integer(1 << 40))]);
        let dict = Dictionary::from_iter([
            ("Filter", Object::Name(b"FlateDecode".to_vec())),
            ("DecodeParms", Object::Dictionary(params)),
        ]);
        let stream = Stream::new(dict, vec![0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
        assert!(matches!(decode_stream(&stream, 64 << 20), Err(GuardError::StreamParameters(_))));
    }

    #[test]
    fn plain_data_over_the_limit_is_refused() {
        let stream = Stream::new(Dictionary::new(), vec![1; 100]);
        assert!(matches!(decode_stream(&stream, 10), Err(GuardError::StreamTooLarge { limit: 10 })));
        assert_eq!(decode_stream(&stream, 100).map(|d| d.len()), Ok(100));
    }
}
