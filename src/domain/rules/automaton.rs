//! Many Chinese substrings found in one pass: an Aho–Corasick automaton over characters.
//!
//! Used twice per rule set: for every keyword of every rule (one scan of the content tells which
//! keywords occur) and for the district's place words (one scan of the address locates it).
//! Text is normalised as it is read (see [`fold`]), the same way the words were.

use std::collections::HashMap;

/// Folds one character for matching: ASCII and full-width letters to lower-case half-width,
/// other cased letters to lower case; whitespace is dropped (`None`).
#[inline]
pub(super) fn fold(ch: char) -> Option<char> {
    if ch.is_ascii() {
        return if ch.is_ascii_whitespace() { None } else { Some(ch.to_ascii_lowercase()) };
    }
    if ch.is_whitespace() {
        return None;
    }
    if ('\u{FF01}'..='\u{FF5E}').contains(&ch) {
        let half = char::from_u32(ch as u32 - 0xFEE0).expect("full-width forms map onto ASCII");
        return Some(half.to_ascii_lowercase());
    }
    if (ch as u32) >= 0x2E80 {
        // CJK and everything after it: no case to fold.
        return Some(ch);
    }
    Some(ch.to_lowercase().next().unwrap_or(ch))
}

/// A word or text as matched; see [`fold`].
pub(super) fn normalize(text: &str) -> String {
    text.chars().filter_map(fold).collect()
}

/// A set of word ids, e.g. the keywords found in one content.
#[derive(Clone)]
pub(super) struct Hits(Vec<u64>);

impl Hits {
    pub fn get(&self, id: u32) -> bool {
        self.0[(id / 64) as usize] & (1 << (id % 64)) != 0
    }

    /// No word yet, room for `words` ids.
    pub fn with_capacity(words: usize) -> Hits {
        Hits(vec![0; words.div_ceil(64)])
    }

    /// As [`Hits::with_capacity`], in the memory of an earlier set.
    pub fn reuse(mut bits: Vec<u64>, words: usize) -> Hits {
        bits.clear();
        bits.resize(words.div_ceil(64), 0);
        Hits(bits)
    }

    /// The memory, to be reused.
    pub fn into_bits(self) -> Vec<u64> {
        self.0
    }

    pub fn set(&mut self, id: u32) {
        self.0[(id / 64) as usize] |= 1 << (id % 64);
    }
}

/// Collects distinct normalised words, numbering them from 0 in order of first appearance.
#[derive(Default)]
pub(super) struct AutomatonBuilder {
    ids: HashMap<String, u32>,
    words: Vec<String>,
}

impl AutomatonBuilder {
    /// The id of `word`, which must already be normalised.
    pub fn intern(&mut self, word: &str) -> u32 {
        if let Some(&id) = self.ids.get(word) {
            return id;
        }
        let id = self.words.len() as u32;
        self.ids.insert(word.to_string(), id);
        self.words.push(word.to_string());
        id
    }

    pub fn build(self) -> Automaton {
        let words = self.words;
        // Alphabet: the characters that occur in some word, numbered from 1; 0 = any other.
        let mut class_bmp: Vec<u32> = if words.is_empty() { Vec::new() } else { vec![0; 0x10000] };
        let mut class_astral: HashMap<char, u32> = HashMap::new();
        let mut classes = 0u32;
        let mut class_of = |ch: char, bmp: &mut Vec<u32>| -> u32 {
            let slot = if (ch as u32) < 0x10000 { &mut bmp[ch as usize] } else { class_astral.entry(ch).or_insert(0) };
            if *slot == 0 {
                classes += 1;
                *slot = classes;
            }
            *slot
        };

        // The trie, with unsorted child lists while it grows.
        let mut children: Vec<Vec<(u32, u32)>> = vec![Vec::new()];
        let mut word_at: Vec<u32> = vec![NONE];
        let mut depth: Vec<u32> = vec![0];
        for (id, word) in words.iter().enumerate() {
            let mut state = 0usize;
            for ch in word.chars() {
                let class = class_of(ch, &mut class_bmp);
                state = match children[state].iter().find(|(c, _)| *c == class) {
                    Some(&(_, next)) => next as usize,
                    None => {
                        let next = children.len();
                        children.push(Vec::new());
                        word_at.push(NONE);
                        depth.push(depth[state] + 1);
                        children[state].push((class, next as u32));
                        next
                    }
                };
            }
            word_at[state] = id as u32;
        }
        for list in &mut children {
            list.sort_unstable();
        }
        // States numbered breadth first: the shallow ones, where the scan is nearly all the
        // time, lie together in a few cache lines instead of among thousands of deep ones.
        let mut order: Vec<u32> = vec![0];
        let mut next = 0;
        while next < order.len() {
            order.extend(children[order[next] as usize].iter().map(|&(_, child)| child));
            next += 1;
        }
        let mut renumbered = vec![0u32; order.len()];
        for (new, &old) in order.iter().enumerate() {
            renumbered[old as usize] = new as u32;
        }
        let children: Vec<Vec<(u32, u32)>> = order
            .iter()
            .map(|&old| {
                children[old as usize].iter().map(|&(class, child)| (class, renumbered[child as usize])).collect()
            })
            .collect();
        let word_at: Vec<u32> = order.iter().map(|&old| word_at[old as usize]).collect();
        let depth: Vec<u32> = order.iter().map(|&old| depth[old as usize]).collect();
        let mut root = vec![0u32; classes as usize + 1];
        for &(class, next) in &children[0] {
            root[class as usize] = next;
        }
        let mut states = Vec::with_capacity(children.len());
        let mut edges = Vec::new();
        for list in &children {
            let from = edges.len() as u32;
            edges.extend_from_slice(list);
            let classes = list.iter().fold(0u64, |bits, &(class, _)| bits | class_bit(class));
            states.push(State { classes, edges_from: from, edges_to: edges.len() as u32, fail: 0, out: NONE });
        }

        let mut automaton = Automaton {
            words,
            class_bmp,
            class_astral,
            root,
            states,
            edges,
            dict: vec![NONE; children.len()],
            word_at,
            depth,
        };
        // Failure and dictionary links, breadth first so a state's links exist before its
        // children's. The root's children fail to the root (the default).
        let mut queue: std::collections::VecDeque<u32> = children[0].iter().map(|&(_, s)| s).collect();
        while let Some(state) = queue.pop_front() {
            for &(class, child) in &children[state as usize] {
                let fail = automaton.step(automaton.states[state as usize].fail, class);
                automaton.states[child as usize].fail = fail;
                automaton.dict[child as usize] =
                    if automaton.word_at[fail as usize] != NONE { fail } else { automaton.dict[fail as usize] };
                queue.push_back(child);
            }
        }
        for (i, state) in automaton.states.iter_mut().enumerate() {
            state.out = if automaton.word_at[i] != NONE { i as u32 } else { automaton.dict[i] };
        }
        automaton
    }
}

const NONE: u32 = u32::MAX;

/// What the scan reads of a state at every character, in one place: the states of 10,000
/// keywords do not stay in cache, and the transitions, failure link and output link each in
/// an array of their own cost a miss each.
#[derive(Clone, Copy)]
struct State {
    /// Bit `class % 64` of each child's class: most characters leave a state through no child,
    /// and this says so for most of them without searching the edges.
    classes: u64,
    /// Its children are `edges[edges_from..edges_to]`, by class.
    edges_from: u32,
    edges_to: u32,
    fail: u32,
    /// The state itself if it ends a word, else the nearest on its failure chain that does.
    out: u32,
}

#[inline]
fn class_bit(class: u32) -> u64 {
    1 << (class % 64)
}

/// A dense transition table at the root (in Chinese text most steps start over), sorted sparse
/// edges elsewhere, and an alphabet of only the words' characters, so any other character is
/// one table lookup and a return to the root.
pub(super) struct Automaton {
    words: Vec<String>,
    class_bmp: Vec<u32>,
    class_astral: HashMap<char, u32>,
    root: Vec<u32>,
    states: Vec<State>,
    edges: Vec<(u32, u32)>,
    /// The nearest state on the failure chain that ends a word.
    dict: Vec<u32>,
    /// The word ending exactly at a state.
    word_at: Vec<u32>,
    /// Characters from the root: the length of the word ending at a state.
    depth: Vec<u32>,
}

impl Automaton {
    pub fn len(&self) -> usize {
        self.words.len()
    }

    #[inline]
    fn class(&self, ch: char) -> u32 {
        match self.class_bmp.get(ch as usize) {
            Some(&c) => c,
            None if (ch as u32) >= 0x10000 => self.class_astral.get(&ch).copied().unwrap_or(0),
            None => 0,
        }
    }

    #[inline]
    fn step(&self, mut state: u32, class: u32) -> u32 {
        loop {
            if state == 0 {
                return self.root[class as usize];
            }
            let s = &self.states[state as usize];
            if s.classes & class_bit(class) != 0 {
                let edges = &self.edges[s.edges_from as usize..s.edges_to as usize];
                if let Ok(i) = edges.binary_search_by_key(&class, |&(c, _)| c) {
                    return edges[i].1;
                }
            }
            state = s.fail;
        }
    }

    /// Calls `found(word id, start)` for every occurrence of every word in `text`, where
    /// `start` counts normalised characters (whitespace skipped) from 0.
    #[inline]
    pub fn each_match(&self, text: &str, mut found: impl FnMut(u32, usize)) {
        self.each_match_len(text, |id, start, _| found(id, start))
    }

    /// As [`Automaton::each_match`], with each word's length in normalised characters.
    #[inline]
    pub fn each_match_len(&self, text: &str, mut found: impl FnMut(u32, usize, usize)) {
        if self.words.is_empty() {
            return;
        }
        let mut state = 0u32;
        for (pos, ch) in text.chars().filter_map(fold).enumerate() {
            let class = self.class(ch);
            if class == 0 {
                state = 0;
                continue;
            }
            state = self.step(state, class);
            let mut at = self.states[state as usize].out;
            while at != NONE {
                let len = self.depth[at as usize] as usize;
                found(self.word_at[at as usize], pos + 1 - len, len);
                at = self.dict[at as usize];
            }
        }
    }

    /// The words occurring in `text` (as substrings; routing reads words, see `words.rs`).
    #[cfg(test)]
    pub fn scan(&self, text: &str) -> Hits {
        let mut hits = Hits(vec![0; self.words.len().div_ceil(64)]);
        self.each_match(text, |id, _| hits.set(id));
        hits
    }
}
