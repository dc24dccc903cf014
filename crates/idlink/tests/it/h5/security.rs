//! Browser journeys of the security pages (being written).
