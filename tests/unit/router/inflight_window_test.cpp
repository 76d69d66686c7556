#include "router/inflight_window.hpp"
#include "router/session.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace zama::router {
namespace {

inflight entry(std::uint16_t id) {
    inflight f;
    f.id = mqtt::packet_id{id};
    return f;
}

std::vector<std::uint16_t> ids(const inflight_window& w) {
    std::vector<std::uint16_t> out;
    for (const inflight& f : w) {
        out.push_back(f.id.value());
    }
    return out;
}

TEST(InflightWindow, FindsAndErasesInAnyOrder) {
    inflight_window w;
    for (std::uint16_t id : {3, 4, 5, 6}) {
        w.push_back(entry(id));
    }
    EXPECT_TRUE(w.holds(5));
    EXPECT_FALSE(w.holds(7));
    EXPECT_EQ(w.find(mqtt::packet_id{7}), w.end());

    w.erase(w.find(mqtt::packet_id{5})); // out of order
    EXPECT_FALSE(w.holds(5));
    EXPECT_EQ(w.find(mqtt::packet_id{5}), w.end());
    w.erase(w.find(mqtt::packet_id{3})); // the front
    EXPECT_EQ(ids(w), (std::vector<std::uint16_t>{4, 6}));
    EXPECT_EQ(w.size(), 2U);
    EXPECT_TRUE(w.holds(4));
    EXPECT_TRUE(w.holds(6));
}

TEST(InflightWindow, SessionSkipsIdsStillInFlightAcrossTheWrap) {
    session_state st;
    st.next_id = 65534;
    st.outbound.push_back(entry(1));
    st.outbound.push_back(entry(2));
    st.outbound.push_back(entry(65535));
    session s(std::move(st), 1);

    EXPECT_EQ(s.next_packet_id().value(), 65534);
    // 65535 is held, 0 is never an id, 1 and 2 are held.
    EXPECT_EQ(s.next_packet_id().value(), 3);
    s.state().outbound.erase(s.state().outbound.find(mqtt::packet_id{1}));
    s.state().next_id = 65535;
    EXPECT_EQ(s.next_packet_id().value(), 1);
}

} // namespace
} // namespace zama::router
