//! The header's word on the nodes, when config.yml names execution nodes: each node's load and
//! state when that fits, else the totals with how many nodes are out of use. A node out of use
//! shows capacity 0 and one word for why; the log pane has the full reason.

use crate::engine::nodes::{NodeHealth, NodeView};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Span;

/// The nodes' segment for a header whose other segments take `others` columns, the session
/// totals among them taking the last `session`, in `room` columns: every node when that fits,
/// be it in place of the session totals (which node is out of use matters more than what the
/// session has run); else the totals, in words when they fit, else in marks. The totals keep
/// the session totals when they can; the header drops from the right what does not fit.
pub fn fitting(
    nodes: &[NodeView],
    others: usize,
    session: usize,
    room: usize,
) -> Vec<Span<'static>> {
    let width = |form: &[Span]| form.iter().map(Span::width).sum::<usize>();
    let each = each_node(nodes);
    if others - session + width(&each) <= room {
        return each;
    }
    let [words, marks] = [false, true].map(|marks| totals(nodes, marks));
    let beside = if others + width(&marks) <= room {
        others
    } else {
        others - session
    };
    if beside + width(&words) <= room {
        words
    } else {
        marks
    }
}

/// "nodes local 1/2 · exec-a 3/4 · exec-b 0/0 skipped · exec-c 0/0 unreachable · exec-d probing"
fn each_node(nodes: &[NodeView]) -> Vec<Span<'static>> {
    let mut spans = vec![Span::raw("nodes ")];
    for (i, node) in nodes.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" · ", Style::new().fg(Color::DarkGray)));
        }
        spans.push(Span::raw(format!("{} ", node.name)));
        let load = format!("{}/{}", node.running, node.capacity);
        match &node.health {
            NodeHealth::Ready { .. } => spans.push(load_span(load, node)),
            NodeHealth::Skipped { .. } => spans.extend(out_of_use(load, "skipped")),
            NodeHealth::Lost { .. } => spans.extend(out_of_use(load, "unreachable")),
            NodeHealth::Probing => spans.push(Span::styled("probing", probing())),
        }
    }
    spans
}

/// "nodes 4/6 (2 down, 1 probing)", or with `marks` "nodes 4/6 ↓3": every node's runs
/// against every node's capacity now, and how many take none.
fn totals(nodes: &[NodeView], marks: bool) -> Vec<Span<'static>> {
    let running: u32 = nodes.iter().map(|node| node.running).sum();
    let capacity: u32 = nodes.iter().map(|node| node.capacity).sum();
    let count = |down: fn(&NodeHealth) -> bool| nodes.iter().filter(|n| down(&n.health)).count();
    let down =
        count(|health| matches!(health, NodeHealth::Skipped { .. } | NodeHealth::Lost { .. }));
    let probing_now = count(|health| *health == NodeHealth::Probing);
    let mut spans = vec![Span::raw(format!("nodes {running}/{capacity}"))];
    if down + probing_now == 0 {
        return spans;
    }
    if marks {
        // One number: the nodes that take no run now, red when some are out of use for a
        // reason rather than still being asked.
        let style = if down > 0 { trouble() } else { probing() };
        spans.push(Span::styled(format!(" ↓{}", down + probing_now), style));
        return spans;
    }
    spans.push(Span::raw(" ("));
    if down > 0 {
        spans.push(Span::styled(format!("{down} down"), trouble()));
    }
    if down > 0 && probing_now > 0 {
        spans.push(Span::raw(", "));
    }
    if probing_now > 0 {
        spans.push(Span::styled(format!("{probing_now} probing"), probing()));
    }
    spans.push(Span::raw(")"));
    spans
}

/// A ready node's load, bold when it is full.
fn load_span(load: String, node: &NodeView) -> Span<'static> {
    if node.capacity > 0 && node.running >= node.capacity {
        Span::styled(load, Style::new().add_modifier(Modifier::BOLD))
    } else {
        Span::raw(load)
    }
}

fn out_of_use(load: String, why: &'static str) -> [Span<'static>; 2] {
    [
        Span::styled(load, trouble()),
        Span::styled(format!(" {why}"), trouble()),
    ]
}

fn trouble() -> Style {
    Style::new().fg(Color::Red)
}

fn probing() -> Style {
    Style::new().fg(Color::Yellow)
}
