#include "mqtt/decoder.hpp"

#include "base/vassert.hpp"
#include "mqtt/parse.hpp"

#include <algorithm>

namespace zama::mqtt {

void decoder::feed(bytes_view fragment) noexcept {
    ZAMA_ASSERT(_pos == _fragment.size(), "feed() before the previous fragment was consumed");
    _fragment = fragment;
    _pos = 0;
}

decode_status decoder::next(packet& out) noexcept {
    if (_failed) {
        return decode_status::error;
    }
    if (_partial_consumed) {
        // The last packet came from the reassembly buffer and its views are
        // now dead: free the buffer so an idle connection holds nothing.
        // (Move-assign: `_partial = {}` would keep the capacity.)
        _partial = std::vector<std::uint8_t>();
        _partial_consumed = false;
    }
    return _partial.empty() ? from_fragment(out) : from_partial(out);
}

// The fast path: frame and parse in place in the caller's fragment.
decode_status decoder::from_fragment(packet& out) {
    const bytes_view in = _fragment.subspan(_pos);
    if (in.empty()) {
        return decode_status::need_more;
    }
    const frame_result f = read_frame_header(in, _max_packet_size);
    if (f.status == frame_status::error) {
        return fail(f.error);
    }
    if (f.status == frame_status::need_more || in.size() < f.header.packet_size()) {
        stash_rest(f);
        return decode_status::need_more;
    }
    _pos += f.header.packet_size();
    return parse(f.header, in.subspan(f.header.header_size, f.header.remaining_length), out);
}

// A packet that started in an earlier fragment: complete it in _partial.
decode_status decoder::from_partial(packet& out) {
    // First the fixed header, one byte at a time: it is at most 5 bytes and
    // each byte may decide an error.
    frame_result f = read_frame_header(_partial, _max_packet_size);
    while (f.status == frame_status::need_more) {
        if (_pos == _fragment.size()) {
            return decode_status::need_more;
        }
        _partial.push_back(_fragment[_pos++]);
        f = read_frame_header(_partial, _max_packet_size);
    }
    if (f.status == frame_status::error) {
        return fail(f.error);
    }
    const std::size_t size = f.header.packet_size();
    const std::size_t take = std::min(size - _partial.size(), _fragment.size() - _pos);
    _partial.reserve(size);
    _partial.insert(_partial.end(), _fragment.begin() + static_cast<std::ptrdiff_t>(_pos),
                    _fragment.begin() + static_cast<std::ptrdiff_t>(_pos + take));
    _pos += take;
    if (_partial.size() < size) {
        return decode_status::need_more;
    }
    _partial_consumed = true;
    return parse(f.header,
                 bytes_view(_partial).subspan(f.header.header_size, f.header.remaining_length),
                 out);
}

decode_status decoder::parse(const frame_header& header, bytes_view body, packet& out) {
    if (auto e = parse_packet(header, body, out)) {
        return fail(*e);
    }
    return decode_status::ready;
}

decode_status decoder::fail(errc e) noexcept {
    _failed = true;
    _error = e;
    _pos = _fragment.size();
    return decode_status::error;
}

// Keeps the unconsumed end of the fragment: the start of a packet whose
// remaining bytes have not arrived. Its fixed header `f`, if complete, has
// passed every check, so the copy is bounded by max_packet_size.
void decoder::stash_rest(const frame_result& f) {
    const bytes_view rest = _fragment.subspan(_pos);
    if (f.status == frame_status::complete) {
        _partial.reserve(f.header.packet_size());
    }
    _partial.assign(rest.begin(), rest.end());
    _pos = _fragment.size();
}

} // namespace zama::mqtt
