// `zama-log sessions`: the persistent sessions stored in each partition's
// `sessions.kv` (router/durable.cpp), decoded by the router's own decoder
// (router/session_record.hpp). Each committed cursor is shown against its
// partition's log, found the way `zama-log partitions` finds it
// (summarize_partition), so the backlog (end - cursor) and what retention
// deleted under a cursor are visible.

#include "router/session_record.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>

#include "commands.hpp"
#include "kv_scan.hpp"
#include "progress.hpp"
#include "segment_scan.hpp"
#include "text.hpp"

namespace zama::inspect {

namespace {

/// The logs that cursors point into, each summarized once.
class partition_logs {
  public:
    explicit partition_logs(const data_dir_view& d) noexcept
        : _d(d) {}

    /// Partition `p`'s offsets; none if it has no segment. `p` < partitions.
    result<std::optional<partition_summary>, tool_error> of(std::uint32_t p) {
        if (auto it = _known.find(p); it != _known.end()) {
            return it->second;
        }
        auto files = list_partition(_d, partition_id{p});
        if (!files) {
            return files.error();
        }
        auto sum = summarize_partition(*files);
        if (!sum) {
            return sum.error();
        }
        _known.emplace(p, *sum);
        return *sum;
    }

  private:
    const data_dir_view& _d;
    std::map<std::uint32_t, std::optional<partition_summary>> _known;
};

/// "  cursor partition=P offset=C start=S end=E backlog=B", and what is
/// unusual about it.
result<std::string, tool_error> cursor_line(std::uint32_t p, offset cursor, partition_logs& logs,
                                            std::uint32_t partitions) {
    std::string line = fmt::format("  cursor partition={} offset={}", p, cursor);
    if (p >= partitions) {
        return line + fmt::format(" (not a partition of this directory: it has {})", partitions);
    }
    auto log = logs.of(p);
    if (!log) {
        return log.error();
    }
    if (!*log) {
        return line + " start=- end=- backlog=- (the partition has no log)";
    }
    const partition_summary& s = **log;
    line +=
        fmt::format(" start={} end={} backlog={}", s.start, s.end, s.end - std::min(cursor, s.end));
    if (cursor < s.start) {
        line += fmt::format(" gone={} (before the start: deleted by retention)", s.start - cursor);
    } else if (cursor > s.end) {
        line += fmt::format(" (past the end by {})", cursor - s.end);
    }
    if (s.met_damage) {
        line += " (log damaged: run zama-log verify)";
    }
    return line;
}

/// A session as a block of lines: the client, then one line per
/// subscription, cursor and list of QoS 2 ids in flight.
result<std::string, tool_error> session_block(const router::session_state& st,
                                              partition_id stored_in, partition_logs& logs,
                                              std::uint32_t partitions) {
    std::string out = fmt::format("client {} (stored in partition {})\n", topic_word(st.client_id),
                                  stored_in.value());
    for (const router::subscription& s : st.subscriptions) {
        out += fmt::format("  subscription {} qos={}\n", topic_word(s.filter),
                           static_cast<unsigned>(s.qos));
    }
    std::vector<std::pair<std::uint32_t, offset>> cursors(st.cursors.begin(), st.cursors.end());
    std::sort(cursors.begin(), cursors.end());
    for (const auto& [p, at] : cursors) {
        auto line = cursor_line(p, at, logs, partitions);
        if (!line) {
            return line.error();
        }
        out += *line + "\n";
    }
    std::vector<unsigned> released;
    for (const router::inflight& f : st.outbound) {
        if (f.released) {
            released.push_back(f.id.value());
        }
    }
    if (!released.empty()) {
        out += fmt::format("  qos2 outbound: {} (PUBREL sent, PUBCOMP awaited)\n",
                           fmt::join(released, " "));
    }
    std::vector<unsigned> awaiting(st.awaiting_pubrel.begin(), st.awaiting_pubrel.end());
    std::sort(awaiting.begin(), awaiting.end());
    if (!awaiting.empty()) {
        out += fmt::format("  qos2 inbound: {} (PUBREC sent, PUBREL awaited)\n",
                           fmt::join(awaiting, " "));
    }
    return out;
}

} // namespace

int list_sessions(const log_options& o) {
    auto opened = open_selection(o.dir, o.partition);
    if (!opened) {
        return fail(opened.error());
    }
    const data_dir_view& d = opened->dir;
    const std::vector<partition_id>& selected = opened->partitions;
    progress bar(stderr_is_terminal());
    auto report = [&bar](const std::string& line) {
        bar.clear();
        std::fflush(stdout);
        fmt::print(stderr, "{}\n", line);
    };
    partition_logs logs(d);
    bool damaged = false;
    std::size_t shown = 0;
    std::size_t done = 0;
    for (partition_id p : selected) {
        ++done;
        auto files = list_partition(d, p);
        if (!files) {
            return fail(files.error());
        }
        if (!files->has_sessions) {
            continue; // none stored here (or the broker keeps sessions in memory only)
        }
        auto kv = scan_kv(
            files->sessions_path, files->sessions_name, bar,
            fmt::format("partition {} ({} of {}): sessions", p.value(), done, selected.size()));
        if (!kv) {
            return fail(kv.error());
        }
        if (kv->cut) {
            damaged = true;
            report(fmt::format("{}: torn tail at byte {} (the broker cuts these {} bytes when it "
                               "opens the file; the sessions stored there are lost): {}",
                               files->sessions_name, kv->cut->position, kv->cut->bytes,
                               kv->cut->why));
        }
        for (const auto& [client, bytes] : kv->entries) {
            if (o.client && client != *o.client) {
                continue;
            }
            auto st = router::decode_session(client, bytes);
            if (!st) {
                damaged = true;
                report(fmt::format("{}: client {}: unreadable session record (version byte {}, "
                                   "{} bytes): the broker drops it when it starts",
                                   files->sessions_name, topic_word(client),
                                   bytes.empty() ? 0 : bytes[0], bytes.size()));
                continue;
            }
            auto block = session_block(*st, p, logs, d.partitions);
            if (!block) {
                return fail(block.error());
            }
            bar.clear();
            fmt::print("{}", *block);
            ++shown;
        }
    }
    bar.clear();
    if (o.client && shown == 0) {
        report(fmt::format("no session of client {} is stored in {}{}", topic_word(*o.client),
                           d.path,
                           o.partition ? fmt::format(" (partition {})", *o.partition) : ""));
    }
    std::fflush(stdout);
    return damaged ? exit_damage : exit_ok;
}

} // namespace zama::inspect
