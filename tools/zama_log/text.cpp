#include "text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>

namespace zama::inspect {

namespace {

constexpr std::size_t text_preview = 32;
constexpr std::size_t hex_preview = 16;

bool printable(std::uint8_t c) noexcept {
    return c >= 0x20 && c < 0x7f;
}

/// Numbers, and "-" for none, are right-aligned in a table.
bool is_number(std::string_view s) noexcept {
    return s == "-" || (!s.empty() && std::all_of(s.begin(), s.end(),
                                                  [](char c) { return c >= '0' && c <= '9'; }));
}

} // namespace

std::string iso8601(std::int64_t ms) {
    std::int64_t seconds = ms / 1000;
    std::int64_t millis = ms % 1000;
    if (millis < 0) {
        millis += 1000;
        --seconds;
    }
    const auto t = static_cast<std::time_t>(seconds);
    std::tm tm{};
    if (::gmtime_r(&t, &tm) == nullptr) {
        return fmt::format("{}ms", ms);
    }
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900,
                       tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
}

std::string payload_preview(std::span<const std::uint8_t> payload) {
    std::string out;
    const auto text = payload.first(std::min(payload.size(), text_preview));
    if (std::all_of(text.begin(), text.end(), printable)) {
        out += '"';
        for (std::uint8_t c : text) {
            if (c == '"' || c == '\\') {
                out += '\\';
            }
            out += static_cast<char>(c);
        }
        out += '"';
        if (payload.size() > text.size()) {
            out += "...";
        }
        return out;
    }
    const auto hex = payload.first(std::min(payload.size(), hex_preview));
    out = "0x";
    for (std::uint8_t c : hex) {
        out += fmt::format("{:02x}", c);
    }
    if (payload.size() > hex.size()) {
        out += "...";
    }
    return out;
}

std::string topic_word(std::string_view topic) {
    const bool plain = !topic.empty() && std::none_of(topic.begin(), topic.end(), [](char c) {
        const auto b = static_cast<std::uint8_t>(c);
        return b <= 0x20 || b == 0x7f || c == '"' || c == '\\';
    });
    if (plain) {
        return std::string(topic);
    }
    std::string out = "\"";
    for (char c : topic) {
        const auto b = static_cast<std::uint8_t>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (b < 0x20 || b == 0x7f) {
            out += fmt::format("\\x{:02x}", b);
        } else {
            out += c;
        }
    }
    out += '"';
    return out;
}

std::string count_of(std::uint64_t n, std::string_view one, std::string_view many) {
    return fmt::format("{} {}", n, n == 1 ? one : many);
}

std::string human_bytes(std::uint64_t bytes) {
    constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    auto value = static_cast<double>(bytes);
    std::size_t unit = 0;
    while (value >= 1024 && unit + 1 < std::size(units)) {
        value /= 1024;
        ++unit;
    }
    return unit == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", value, units[unit]);
}

table::table(std::vector<std::string> header) {
    _rows.push_back(std::move(header));
}

void table::add(std::vector<std::string> row) {
    _rows.push_back(std::move(row));
}

void table::print(std::FILE* out) const {
    std::vector<std::size_t> widths;
    for (const auto& row : _rows) {
        widths.resize(std::max(widths.size(), row.size()));
        for (std::size_t i = 0; i < row.size(); ++i) {
            widths[i] = std::max(widths[i], row[i].size());
        }
    }
    for (const auto& row : _rows) {
        std::string line;
        for (std::size_t i = 0; i < row.size(); ++i) {
            if (i > 0) {
                line += "  ";
            }
            const std::size_t pad = widths[i] - row[i].size();
            const bool last = i + 1 == row.size();
            if (is_number(row[i])) {
                line.append(pad, ' ');
                line += row[i];
            } else {
                line += row[i];
                if (!last) {
                    line.append(pad, ' ');
                }
            }
        }
        fmt::print(out, "{}\n", line);
    }
}

} // namespace zama::inspect
