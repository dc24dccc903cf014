//! Browser journeys of the identity pages (being written).
