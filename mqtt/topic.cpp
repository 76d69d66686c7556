#include "mqtt/topic.hpp"

#include "mqtt/utf8.hpp"

namespace zama::mqtt {

// Names with non-ASCII bytes or an error: byte by byte, so that the error
// reported is the first offending byte's.
std::optional<errc> detail::validate_topic_name_slow(std::string_view name) noexcept {
    if (name.empty()) {
        return errc::topic_empty;
    }
    std::size_t i = 0;
    while (i < name.size()) {
        const auto c = static_cast<unsigned char>(name[i]);
        if (c == 0) {
            return errc::utf8_null;
        }
        if (c == '+' || c == '#') {
            return errc::topic_name_wildcard;
        }
        if (c < 0x80) {
            ++i;
            continue;
        }
        const std::size_t n = detail::utf8_sequence_length(name.substr(i));
        if (n == 0) {
            return errc::utf8_ill_formed;
        }
        i += n;
    }
    return std::nullopt;
}

std::optional<errc> validate_topic_filter(std::string_view filter) noexcept {
    if (filter.empty()) {
        return errc::topic_empty;
    }
    if (auto e = validate_utf8(filter)) {
        return e;
    }
    const std::size_t n = filter.size();
    for (std::size_t i = 0; i < n; ++i) {
        const char c = filter[i];
        const bool starts_level = i == 0 || filter[i - 1] == '/';
        if (c == '+') {
            if (!starts_level || (i + 1 < n && filter[i + 1] != '/')) {
                return errc::filter_single_level_misused;
            }
        } else if (c == '#') {
            if (!starts_level || i + 1 != n) {
                return errc::filter_multi_level_misused;
            }
        }
    }
    return std::nullopt;
}

bool has_wildcard(std::string_view filter) noexcept {
    return filter.find_first_of("+#") != std::string_view::npos;
}

bool topic_matches(std::string_view filter, std::string_view name) noexcept {
    if (is_dollar_topic(name) && !filter.empty() && (filter[0] == '+' || filter[0] == '#')) {
        return false;
    }
    std::size_t f = 0;
    std::size_t t = 0;
    // Walk both level by level. At the top of the loop f and t are at the
    // start of a level.
    for (;;) {
        if (f < filter.size() && filter[f] == '#') {
            return true; // the rest of the name, whatever it is
        }
        if (f < filter.size() && filter[f] == '+') {
            ++f;
            while (t < name.size() && name[t] != '/') {
                ++t;
            }
        } else {
            while (f < filter.size() && filter[f] != '/') {
                if (t == name.size() || name[t] != filter[f]) {
                    return false;
                }
                ++f;
                ++t;
            }
            if (t < name.size() && name[t] != '/') {
                return false; // the name's level is longer
            }
        }
        // Both are at the end of a level: at '/' or at their end.
        if (f == filter.size()) {
            return t == name.size();
        }
        if (t == name.size()) {
            // "a/#" also matches "a": the parent of a multi-level wildcard.
            return filter.substr(f) == "/#";
        }
        ++f;
        ++t;
    }
}

} // namespace zama::mqtt
