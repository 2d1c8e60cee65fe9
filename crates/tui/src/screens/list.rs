//! The list every screen shares: a bordered table that builds only the rows
//! on screen (lists may hold tens of thousands of rows), with a cursor,
//! a position counter and an empty-state sentence.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Row, Table, TableState};

use crate::app::ListView;
use crate::theme;

/// Rows that fit in a list drawn in `area` (border and header take three).
pub fn inner_height(area: Rect) -> usize {
    usize::from(area.height.saturating_sub(3))
}

/// The first row to show so the cursor is visible, starting from the
/// remembered offset (so the view does not jump while the cursor moves).
pub fn visible_window(list: &ListView, height: usize) -> usize {
    let len = list.rows.len();
    if height == 0 || len <= height {
        return 0;
    }
    let mut offset = list.offset.min(len - height);
    if list.selected < offset {
        offset = list.selected;
    } else if list.selected >= offset + height {
        offset = list.selected + 1 - height;
    }
    offset
}

/// The table part of a list screen.
pub struct TableSpec<'a> {
    pub title: Line<'a>,
    pub header: Row<'a>,
    pub widths: Vec<Constraint>,
    /// Said when there is nothing to list.
    pub empty: String,
}

/// Draw a list, building rows only for what is visible; `row` turns a
/// snapshot row into a table row.
pub fn table_rows<'a>(
    frame: &mut Frame,
    area: Rect,
    list: &ListView,
    spec: TableSpec<'a>,
    row: impl Fn(usize) -> Row<'a>,
) {
    let height = inner_height(area);
    let len = list.rows.len();
    let position = if len == 0 {
        String::from(" 0 ")
    } else {
        format!(" {}/{} ", list.selected.min(len - 1) + 1, len)
    };
    let mut block = Block::bordered()
        .title(spec.title)
        .title_top(Line::from(position).right_aligned())
        .border_style(theme::border());
    if !list.filter.is_empty() {
        block = block.title_bottom(Line::styled(
            format!(" filter: {} ", list.filter),
            theme::accent(),
        ));
    }
    if len == 0 {
        let inner = block.inner(area);
        frame.render_widget(block, area);
        frame.render_widget(
            Paragraph::new(Line::styled(spec.empty, theme::muted())).centered(),
            inner.centered_vertically(Constraint::Length(1)),
        );
        return;
    }
    let offset = visible_window(list, height);
    let end = (offset + height).min(len);
    let rows: Vec<Row<'a>> = list
        .rows
        .get(offset..end)
        .unwrap_or_default()
        .iter()
        .map(|&r| row(r))
        .collect();
    let table = Table::new(rows, spec.widths)
        .header(spec.header.style(theme::header()))
        .block(block)
        .column_spacing(1)
        .row_highlight_style(theme::selected());
    let mut state = TableState::default().with_selected(Some(list.selected.saturating_sub(offset)));
    frame.render_stateful_widget(table, area, &mut state);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(len: usize, selected: usize, offset: usize) -> ListView {
        ListView {
            rows: (0..len).collect(),
            selected,
            offset,
            ..ListView::default()
        }
    }

    #[test]
    fn the_window_moves_only_when_the_cursor_leaves_it() {
        assert_eq!(visible_window(&list(100, 5, 0), 10), 0);
        assert_eq!(visible_window(&list(100, 10, 0), 10), 1);
        assert_eq!(visible_window(&list(100, 12, 5), 10), 5);
        assert_eq!(visible_window(&list(100, 3, 5), 10), 3);
        assert_eq!(visible_window(&list(100, 99, 0), 10), 90);
        // Shrunk list: no blank space below the last row.
        assert_eq!(visible_window(&list(12, 11, 8), 10), 2);
        assert_eq!(visible_window(&list(5, 4, 3), 10), 0);
    }
}
