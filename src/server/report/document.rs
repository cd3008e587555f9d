//! The report before it is rendered: sections of paragraphs and tables, each section naming
//! the controls it gives evidence for. The renderers (`markdown`, `html`) read only this
//! model; what goes into it is decided in `sections` and `summaries`.
//!
//! A table is data: a [`Table`] of items and a list of columns, each a heading and how an
//! item fills its cell, so that adding a column is one line and a heading can never drift
//! from its cells.

/// A control the report gives evidence for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Control {
    Cc6_1,
    Cc6_3,
    Cc7_2,
    Cc8_1,
    Ac6,
    Au2,
    Au3,
    Au9,
    Au10,
    Cm5,
}

impl Control {
    pub(super) const ALL: [Control; 10] = [
        Control::Cc6_1,
        Control::Cc6_3,
        Control::Cc7_2,
        Control::Cc8_1,
        Control::Ac6,
        Control::Au2,
        Control::Au3,
        Control::Au9,
        Control::Au10,
        Control::Cm5,
    ];

    pub(super) fn label(self) -> &'static str {
        match self {
            Control::Cc6_1 => "SOC 2 CC6.1",
            Control::Cc6_3 => "SOC 2 CC6.3",
            Control::Cc7_2 => "SOC 2 CC7.2",
            Control::Cc8_1 => "SOC 2 CC8.1",
            Control::Ac6 => "NIST 800-53 AC-6",
            Control::Au2 => "NIST 800-53 AU-2",
            Control::Au3 => "NIST 800-53 AU-3",
            Control::Au9 => "NIST 800-53 AU-9",
            Control::Au10 => "NIST 800-53 AU-10",
            Control::Cm5 => "NIST 800-53 CM-5",
        }
    }

    pub(super) fn covers(self) -> &'static str {
        match self {
            Control::Cc6_1 => "logical access: who may approve",
            Control::Cc6_3 => {
                "role-based access, least privilege: approvals per approver and group"
            }
            Control::Cc7_2 => "monitoring: denials, expiries, anomalies",
            Control::Cc8_1 => "change management: approved changes with approver and reason",
            Control::Ac6 => "least privilege",
            Control::Au2 => "event logging",
            Control::Au3 => "content of audit records",
            Control::Au9 => "protection of audit information",
            Control::Au10 => "non-repudiation: approver identities on every verdict",
            Control::Cm5 => "access restrictions for change",
        }
    }

    pub(super) fn cite(self) -> String {
        format!("{} ({})", self.label(), self.covers())
    }
}

/// What a section says when it has nothing to list.
pub(super) const NONE: &str = "None in this period.";

/// One table cell.
pub(super) enum Cell {
    Text(String),
    /// Commands, hashes, ids: shown as code.
    Code(String),
    /// Links to sections, by title.
    Sections(Vec<&'static str>),
}

pub(super) fn t(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}

pub(super) fn c(s: impl Into<String>) -> Cell {
    Cell::Code(s.into())
}

/// Text, or `-` when there is none.
pub(super) fn opt(s: Option<&str>) -> Cell {
    t(s.unwrap_or("-"))
}

pub(super) enum Block {
    Para(String),
    /// Said loudly: a failed verification.
    Alert(String),
    Table {
        head: Vec<&'static str>,
        rows: Vec<Vec<Cell>>,
    },
}

/// A table being built: one row per item, filled column by column.
pub(super) struct Table<T> {
    items: Vec<T>,
    head: Vec<&'static str>,
    rows: Vec<Vec<Cell>>,
}

impl<T> Table<T> {
    /// A table with one row for each of `items`, in their order, and no columns yet.
    pub(super) fn of(items: impl IntoIterator<Item = T>) -> Table<T> {
        let items: Vec<T> = items.into_iter().collect();
        let rows = items.iter().map(|_| Vec::new()).collect();
        Table {
            items,
            head: Vec::new(),
            rows,
        }
    }

    /// Adds the column `head`, each item's cell made by `cell`.
    pub(super) fn column(mut self, head: &'static str, cell: impl Fn(&T) -> Cell) -> Table<T> {
        self.head.push(head);
        for (row, item) in self.rows.iter_mut().zip(&self.items) {
            row.push(cell(item));
        }
        self
    }

    /// The table, even without rows.
    pub(super) fn block(self) -> Block {
        Block::Table {
            head: self.head,
            rows: self.rows,
        }
    }

    /// The table, or the sentence `none` when it has no rows (nothing at all when `none` is
    /// empty).
    pub(super) fn or(self, none: &str) -> Block {
        if self.rows.is_empty() {
            Block::Para(none.to_owned())
        } else {
            self.block()
        }
    }
}

pub(super) struct Section {
    pub(super) title: &'static str,
    pub(super) controls: &'static [Control],
    pub(super) blocks: Vec<Block>,
}

pub(super) struct Document {
    pub(super) period: String,
    pub(super) overview: Vec<Block>,
    pub(super) sections: Vec<Section>,
}

/// GitHub's anchor for a heading: lowercase, spaces to `-`, other punctuation dropped. The
/// HTML page uses the same ids, so that links between sections read the same in both.
pub(super) fn slug(title: &str) -> String {
    title
        .chars()
        .filter_map(|ch| match ch {
            ' ' => Some('-'),
            '-' | '_' => Some(ch),
            _ if ch.is_alphanumeric() => Some(ch.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_filled_column_by_column_and_say_so_when_empty() {
        let block = Table::of([("a", 1), ("b", 2)])
            .column("Name", |(name, _)| t(*name))
            .column("Twice", |(_, n)| c((n * 2).to_string()))
            .or("none");
        let Block::Table { head, rows } = block else {
            panic!("rows make a table");
        };
        assert_eq!(head, ["Name", "Twice"]);
        let cells: Vec<Vec<String>> = rows
            .iter()
            .map(|row| {
                row.iter()
                    .map(|cell| match cell {
                        Cell::Text(s) => format!("text {s}"),
                        Cell::Code(s) => format!("code {s}"),
                        Cell::Sections(_) => "sections".to_owned(),
                    })
                    .collect()
            })
            .collect();
        assert_eq!(cells, [["text a", "code 2"], ["text b", "code 4"]]);
        let empty = Table::of(Vec::<u8>::new()).column("X", |_| t("x"));
        assert!(matches!(empty.or("None."), Block::Para(p) if p == "None."));
        let empty = Table::of(Vec::<u8>::new()).column("X", |_| t("x"));
        assert!(
            matches!(empty.block(), Block::Table { head, rows } if head == ["X"] && rows.is_empty())
        );
        assert_eq!(slug("Who may approve"), "who-may-approve");
        assert_eq!(
            slug("Integrity of the audit_trail!"),
            "integrity-of-the-audit_trail"
        );
    }
}
