//! English text to phonemes for the hibari voice (being written).
