//! Browser journeys of the cards pages (being written).
