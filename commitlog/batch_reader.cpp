#include "commitlog/batch_reader.hpp"

#include <algorithm>

namespace zama::commitlog {

batch_reader::batch_reader(rt::file& f, std::uint64_t position, std::uint64_t limit,
                           std::size_t chunk) noexcept
    : _file(f)
    , _position(position)
    , _limit(limit)
    , _chunk(std::max<std::size_t>(chunk, batch_header_size)) {}

void batch_reader::seek(std::uint64_t position) noexcept {
    _position = position;
    _stopped = stop::none;
}

rt::task<result<bool, std::errc>> batch_reader::fill(std::uint64_t at, std::size_t n) {
    if (buffered(at, n)) {
        co_return true;
    }
    if (at > _limit || n > _limit - at) {
        co_return false;
    }
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(std::max(n, _chunk), _limit - at));
    _buffer.resize(want);
    _buffer_at = at;
    _buffer_size = 0;
    auto got = co_await _file.read(at, _buffer);
    if (!got) {
        co_return got.error();
    }
    _buffer_size = *got;
    co_return *got >= n;
}

rt::task<result<std::optional<batch_reader::framed>, std::errc>> batch_reader::next() {
    using out = std::optional<framed>;
    if (_position >= _limit) {
        _stopped = stop::end;
        co_return out{};
    }
    _stopped = stop::invalid; // until the batch checks out
    auto have_header = co_await fill(_position, batch_header_size);
    if (!have_header) {
        co_return have_header.error();
    }
    if (!*have_header) {
        co_return out{};
    }
    auto h = read_header(view(_position, batch_header_size));
    if (!h || h->length > _limit - _position) {
        co_return out{};
    }
    auto have_batch = co_await fill(_position, h->length);
    if (!have_batch) {
        co_return have_batch.error();
    }
    if (!*have_batch) {
        co_return out{};
    }
    const auto bytes = view(_position, h->length);
    if (!check_crc(*h, bytes)) {
        co_return out{};
    }
    _stopped = stop::none;
    framed f{_position, *h, bytes};
    _position += h->length;
    co_return f;
}

rt::task<result<std::optional<batch_reader::framed>, std::errc>>
batch_reader::resync(offset min_base, offset max_end) {
    using out = std::optional<framed>;
    for (std::uint64_t at = _position + 1; at < _limit && _limit - at >= batch_header_size; ++at) {
        if (!buffered(at, batch_header_size)) {
            auto more = co_await fill(at, batch_header_size);
            if (!more) {
                co_return more.error();
            }
            if (!*more) {
                break;
            }
        }
        if (_buffer[at - _buffer_at] != batch_format_version) {
            continue; // the cheap test first: most bytes are not a version byte
        }
        auto h = read_header(view(at, batch_header_size));
        if (!h || h->base < min_base || h->end() > max_end || h->length > _limit - at) {
            continue;
        }
        auto have = co_await fill(at, h->length);
        if (!have) {
            co_return have.error();
        }
        if (*have && check_crc(*h, view(at, h->length))) {
            _position = at;
            _stopped = stop::none;
            co_return framed{at, *h, view(at, h->length)};
        }
    }
    _position = _limit;
    _stopped = stop::end;
    co_return out{};
}

} // namespace zama::commitlog
