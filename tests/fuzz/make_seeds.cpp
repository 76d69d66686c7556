// Writes the decoder fuzzer's seed corpus: one file per packet type, a
// stream of several packets, and a few near-misses of the rules.
// Usage: mqtt_fuzz_seeds DIR

#include "mqtt/encoder.hpp"

#include <array>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

using namespace zama::mqtt;

namespace {

std::vector<std::uint8_t> encode_or_die(const packet& p) {
    std::vector<std::uint8_t> out(*encoded_size(p));
    if (!encode(p, out)) {
        std::fprintf(stderr, "cannot encode a seed\n");
        std::exit(1);
    }
    return out;
}

void write(const std::string& path, const std::vector<std::uint8_t>& b) {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    const std::string dir = argv[1];
    const std::array<std::uint8_t, 8> payload{1, 2, 3, 4, 5, 6, 7, 8};
    const std::array<subscription, 3> subs{
        {{"a/+/c", qos::at_least_once}, {"#", qos::exactly_once}, {"$SYS/#", qos::at_most_once}}};
    const std::array<std::string_view, 2> filters{"a/#", "+/b"};
    const std::array<std::uint8_t, 3> codes{0, 2, suback_failure};

    const std::vector<std::pair<std::string, packet>> seeds{
        {"connect", connect{.client_id = "seed",
                            .keep_alive = 30,
                            .clean_session = false,
                            .will = will_message{.topic = "w/t",
                                                 .payload = payload,
                                                 .qos = qos::at_least_once,
                                                 .retain = true},
                            .username = "user",
                            .password = bytes_view(payload)}},
        {"connect_min", connect{.client_id = "", .clean_session = true}},
        {"connack", connack{true, connack_code::accepted}},
        {"publish0", publish{.topic = "s/€", .payload = payload}},
        {"publish1",
         publish{
             .topic = "s/1", .payload = payload, .id = packet_id{1}, .qos = qos::at_least_once}},
        {"publish2", publish{.topic = "$SYS/x",
                             .payload = payload,
                             .id = packet_id{2},
                             .qos = qos::exactly_once,
                             .dup = true,
                             .retain = true}},
        {"puback", puback{packet_id{1}}},
        {"pubrec", pubrec{packet_id{2}}},
        {"pubrel", pubrel{packet_id{2}}},
        {"pubcomp", pubcomp{packet_id{2}}},
        {"subscribe", subscribe{packet_id{3}, subscription_list(subs)}},
        {"suback", suback{packet_id{3}, bytes_view(codes)}},
        {"unsubscribe", unsubscribe{packet_id{4}, filter_list(filters)}},
        {"unsuback", unsuback{packet_id{4}}},
        {"pingreq", pingreq{}},
        {"pingresp", pingresp{}},
        {"disconnect", disconnect{}},
    };
    std::vector<std::uint8_t> stream;
    for (const auto& [name, p] : seeds) {
        const auto b = encode_or_die(p);
        write(dir + "/" + name, b);
        stream.insert(stream.end(), b.begin(), b.end());
    }
    write(dir + "/stream", stream);
    // Near-misses: protocol level 3, a '#' in a topic name, a 5-byte length.
    write(dir + "/level3", {0x10, 0x0d, 0, 4, 'M', 'Q', 'T', 'T', 3, 2, 0, 60, 0, 1, 'c'});
    write(dir + "/wildcard", {0x30, 0x03, 0, 1, '#'});
    write(dir + "/long_length", {0x30, 0xff, 0xff, 0xff, 0xff, 0x01});
    return 0;
}
