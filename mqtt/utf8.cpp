#include "mqtt/utf8.hpp"

#include "mqtt/swar.hpp"

namespace zama::mqtt {

namespace detail {

std::size_t utf8_sequence_length(std::string_view s) noexcept {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    const auto cont = [&](std::size_t i, unsigned lo = 0x80, unsigned hi = 0xBF) {
        return i < s.size() && byte(i) >= lo && byte(i) <= hi;
    };
    const unsigned b0 = byte(0);
    // Table 3-7 of the Unicode standard: the well-formed byte sequences.
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        return cont(1) ? 2 : 0;
    }
    if (b0 == 0xE0) {
        return cont(1, 0xA0, 0xBF) && cont(2) ? 3 : 0;
    }
    if ((b0 >= 0xE1 && b0 <= 0xEC) || b0 == 0xEE || b0 == 0xEF) {
        return cont(1) && cont(2) ? 3 : 0;
    }
    if (b0 == 0xED) { // excludes the surrogates U+D800..U+DFFF
        return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
    }
    if (b0 == 0xF0) {
        return cont(1, 0x90, 0xBF) && cont(2) && cont(3) ? 4 : 0;
    }
    if (b0 >= 0xF1 && b0 <= 0xF3) {
        return cont(1) && cont(2) && cont(3) ? 4 : 0;
    }
    if (b0 == 0xF4) {
        return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
    }
    return 0;
}

} // namespace detail

std::optional<errc> validate_utf8(std::string_view s) noexcept {
    std::size_t i = 0;
    while (i < s.size()) {
        // Most strings are ASCII: skip eight plain bytes at a time.
        if (i + 8 <= s.size()) {
            const std::uint64_t w = swar::load(s.data() + i);
            if (((w & swar::high_bits) | swar::zero_byte(w)) == 0) {
                i += 8;
                continue;
            }
        }
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == 0) {
            return errc::utf8_null;
        }
        if (c < 0x80) {
            ++i;
            continue;
        }
        const std::size_t n = detail::utf8_sequence_length(s.substr(i));
        if (n == 0) {
            return errc::utf8_ill_formed;
        }
        i += n;
    }
    return std::nullopt;
}

} // namespace zama::mqtt
