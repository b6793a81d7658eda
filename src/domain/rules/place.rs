//! The ticket's place: the operator's pick, else the street (and community) named in the text.
//!
//! Locating gives the same answer as [`District::locate`] (a test keeps the two in agreement)
//! but finds every place word in one automaton pass instead of one substring search per word:
//! intake routes every ticket, and the content fallback reads hundreds of characters.

use super::automaton::{normalize, Automaton, AutomatonBuilder};
use super::{District, Location, RoutingInput};

pub(super) struct Locator {
    automaton: Automaton,
    /// By word id.
    places: Vec<PlaceWord>,
}

struct PlaceWord {
    word: String,
    chars: usize,
    street: String,
    community: Option<String>,
}

impl Locator {
    pub fn new(district: &District) -> Locator {
        let mut builder = AutomatonBuilder::default();
        let mut places = Vec::new();
        let mut add = |word: &str, street: &str, community: Option<&str>| {
            let normal = normalize(word);
            if normal.is_empty() {
                return;
            }
            // Place words are unique in a checked district; should one repeat, the first stays.
            if builder.intern(&normal) as usize == places.len() {
                places.push(PlaceWord {
                    word: word.to_string(),
                    chars: normal.chars().count(),
                    street: street.to_string(),
                    community: community.map(str::to_string),
                });
            }
        };
        for street in &district.streets {
            for word in
                std::iter::once(&street.name).chain(&street.roads).chain(&street.landmarks).chain(&street.aliases)
            {
                add(word, &street.code, None);
            }
            for community in &street.communities {
                for word in std::iter::once(&community.name).chain(&community.estates).chain(&community.aliases) {
                    add(word, &street.code, Some(&community.code));
                }
            }
        }
        Locator { automaton: builder.build(), places }
    }

    /// As `District::locate`: a match lying inside a longer match is dropped; of the rest, a
    /// community word beats a street word, then the longer word, then the earlier one.
    pub fn locate(&self, text: &str) -> Option<Location> {
        let chars = |id: u32| self.places[id as usize].chars;
        // (start, end, word id) in normalised characters; an address holds a handful.
        let mut found: Vec<(usize, usize, u32)> = Vec::new();
        self.automaton.each_match(text, |id, start| found.push((start, start + chars(id), id)));
        let inside_longer = |&&(start, end, id): &&(usize, usize, u32)| {
            found.iter().any(|&(s, e, other)| chars(other) > chars(id) && s <= start && end <= e)
        };
        let &(_, _, id) = found.iter().filter(|m| !inside_longer(m)).min_by_key(|&&(start, _, id)| {
            (self.places[id as usize].community.is_none(), std::cmp::Reverse(chars(id)), start)
        })?;
        let p = &self.places[id as usize];
        Some(Location { street: p.street.clone(), community: p.community.clone(), matched_word: p.word.clone() })
    }
}

pub(super) struct Place {
    pub street: Option<String>,
    pub community: Option<String>,
    /// Set when the place was found in the text rather than picked.
    pub located: Option<Location>,
}

/// The operator's pick wins (a picked community implies its street; unknown codes count as not
/// picked); otherwise the address text, and when it names no place, the content.
pub(super) fn place(input: &RoutingInput, district: &District, locator: &Locator) -> Place {
    let picked_street = input.street.filter(|s| district.street(s).is_some());
    let picked_community = input.community.and_then(|c| district.community(c));
    match (picked_street, picked_community) {
        (Some(street), community) => {
            Place { street: Some(street.to_string()), community: community.map(|(_, c)| c.code.clone()), located: None }
        }
        (None, Some((street, community))) => {
            Place { street: Some(street.code.clone()), community: Some(community.code.clone()), located: None }
        }
        (None, None) => {
            let located = locator.locate(input.address).or_else(|| locator.locate(input.content));
            Place {
                street: located.as_ref().map(|l| l.street.clone()),
                community: located.as_ref().and_then(|l| l.community.clone()),
                located,
            }
        }
    }
}
