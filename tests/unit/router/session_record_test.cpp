// The session record: what the session store keeps of a persistent
// session (encode_session / decode_session). Round trips, the documented
// bytes, the committed cursor per partition (the first message in flight,
// else the delivery cursor) and the records decode must refuse.

#include "router/session_record.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace zama::router {
namespace {

using commitlog::batch_ptr;
using commitlog::offset;
using commitlog::partition_id;

/// A batch of partition `p` with `n` records from `base`.
batch_ptr batch_of(std::uint32_t p, offset base, std::size_t n) {
    batch_ptr b = batch_ptr::make(partition_id{p}, base);
    const std::vector<std::uint8_t> payload{'x'};
    for (std::size_t i = 0; i < n; ++i) {
        b->append("t", payload, {1, false});
    }
    return b;
}

/// An outbound message in flight: record `index` of `batch`.
inflight in_flight(std::uint16_t id, const batch_ptr& batch, std::uint32_t index,
                   mqtt::qos qos = mqtt::qos::at_least_once) {
    inflight f;
    f.id = mqtt::packet_id{id};
    f.qos = qos;
    f.batch = batch;
    f.index = index;
    return f;
}

inflight released(std::uint16_t id, const batch_ptr& batch, std::uint32_t index) {
    inflight f = in_flight(id, batch, index, mqtt::qos::exactly_once);
    f.released = true;
    return f;
}

inflight retained(std::uint16_t id, const batch_ptr& batch, std::uint32_t index) {
    inflight f = in_flight(id, batch, index);
    f.retain = true;
    return f;
}

std::map<std::uint32_t, offset> sorted(const absl::flat_hash_map<std::uint32_t, offset>& m) {
    return {m.begin(), m.end()};
}

std::set<std::uint16_t> sorted(const packet_id_set& s) {
    return {s.begin(), s.end()};
}

std::vector<std::pair<std::string, mqtt::qos>> subscriptions_of(const session_state& st) {
    std::vector<std::pair<std::string, mqtt::qos>> out;
    for (const subscription& s : st.subscriptions) {
        out.emplace_back(s.filter, s.qos);
    }
    return out;
}

/// The ids of the outbound entries, with whether each is released.
std::vector<std::pair<std::uint16_t, bool>> outbound_of(const session_state& st) {
    std::vector<std::pair<std::uint16_t, bool>> out;
    for (const inflight& f : st.outbound) {
        out.emplace_back(f.id.value(), f.released);
    }
    return out;
}

std::optional<session_state> decode(std::span<const std::uint8_t> bytes) {
    return decode_session("client", bytes);
}

/// A session with something in every field.
session_state full_session() {
    session_state st;
    st.client_id = "client";
    st.clean = false;
    st.next_id = 4242;
    st.subscriptions = {
        {"a/+/b", mqtt::qos::at_least_once},
        {"#", mqtt::qos::exactly_once},
        {"+", mqtt::qos::at_most_once},
        {"sport/+/+/#", mqtt::qos::at_least_once},
        {"capteurs/+/température/#", mqtt::qos::exactly_once},
        {"日本/+/温度", mqtt::qos::at_most_once},
        {"$SYS/#", mqtt::qos::at_most_once},
    };
    st.cursors = {{0, 0}, {7, 1'000'000'000'000}, {0xffff'ffffu, ~offset{0}}};
    st.awaiting_pubrel = {1, 2, 300, 65535};
    return st;
}

// --- Round trips ------------------------------------------------------------------------------

TEST(SessionRecord, RoundTripsEveryField) {
    session_state st = full_session();
    // Released QoS 2 messages are kept by id (and do not move the cursors:
    // their batches are beyond them here).
    const batch_ptr b = batch_of(7, 1'000'000'000'000, 4);
    st.outbound.push_back(released(17, b, 1));
    st.outbound.push_back(released(65535, b, 3));
    st.outbound.push_back(released(1, b, 2));

    const auto bytes = encode_session(st);
    ASSERT_FALSE(bytes.empty());
    EXPECT_EQ(bytes[0], session_record_version);
    const auto got = decode_session("client-id/ü", bytes);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->client_id, "client-id/ü");
    EXPECT_FALSE(got->clean);
    EXPECT_EQ(got->next_id, 4242);
    EXPECT_EQ(subscriptions_of(*got), subscriptions_of(st)) << "filters, QoS and order";
    EXPECT_EQ(sorted(got->cursors), sorted(st.cursors));
    EXPECT_EQ(sorted(got->awaiting_pubrel), sorted(st.awaiting_pubrel));
    const std::vector<std::pair<std::uint16_t, bool>> want_outbound{
        {17, true}, {65535, true}, {1, true}};
    EXPECT_EQ(outbound_of(*got), want_outbound) << "released ids, in send order";
    for (const inflight& f : got->outbound) {
        EXPECT_EQ(f.qos, mqtt::qos::exactly_once);
        EXPECT_FALSE(f.batch) << "a released message needs no batch";
    }

    // Again from the decoded state: the same.
    const auto again = decode(encode_session(*got));
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(subscriptions_of(*again), subscriptions_of(st));
    EXPECT_EQ(sorted(again->cursors), sorted(st.cursors));
    EXPECT_EQ(outbound_of(*again), want_outbound);
    EXPECT_EQ(sorted(again->awaiting_pubrel), sorted(st.awaiting_pubrel));
    EXPECT_EQ(again->next_id, 4242);
}

TEST(SessionRecord, RoundTripsAnEmptySession) {
    session_state st;
    st.client_id = "empty";
    st.clean = false;
    const auto got = decode(encode_session(st));
    ASSERT_TRUE(got.has_value());
    EXPECT_TRUE(got->subscriptions.empty());
    EXPECT_TRUE(got->cursors.empty());
    EXPECT_TRUE(got->outbound.empty());
    EXPECT_TRUE(got->awaiting_pubrel.empty());
    EXPECT_EQ(got->next_id, 1);
}

TEST(SessionRecord, RoundTripsAFilterOfTheLargestSize) {
    session_state st;
    std::string filter(65535, 'a');
    filter[1] = '/';
    filter[2] = '+';
    filter[3] = '/';
    filter.back() = '#';
    filter[filter.size() - 2] = '/';
    st.subscriptions = {{filter, mqtt::qos::exactly_once}, {"x", mqtt::qos::at_least_once}};
    const auto got = decode(encode_session(st));
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(subscriptions_of(*got), subscriptions_of(st));
}

TEST(SessionRecord, RoundTripsTheMostSubscriptionsASessionMayHold) {
    // The count is a u16; max_subscriptions_per_client is at most 65535, so
    // a session never holds more (Router.SubscriptionsBeyondTheLimitAreRefused).
    session_state st;
    for (std::size_t i = 0; i < 65535; ++i) {
        st.subscriptions.push_back({"f/" + std::to_string(i), mqtt::qos::at_least_once});
    }
    const auto got = decode(encode_session(st));
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->subscriptions.size(), st.subscriptions.size());
}

TEST(SessionRecord, NextIdZeroDecodesAsOne) {
    session_state st;
    st.next_id = 0;
    const auto zero = decode(encode_session(st));
    ASSERT_TRUE(zero.has_value());
    EXPECT_EQ(zero->next_id, 1);
    st.next_id = 65535;
    const auto top = decode(encode_session(st));
    ASSERT_TRUE(top.has_value());
    EXPECT_EQ(top->next_id, 65535);
}

// --- The documented bytes ---------------------------------------------------------------------

TEST(SessionRecord, EncodesTheDocumentedLayout) {
    session_state st;
    st.next_id = 0x0102;
    st.subscriptions = {{"a/#", mqtt::qos::at_least_once}};
    st.cursors = {{3, 0x1122334455667788}};
    st.outbound.push_back(released(0x0a0b, batch_of(3, 0x1122334455667788, 1), 0));
    st.awaiting_pubrel = {0x0c0d};
    const std::vector<std::uint8_t> want{
        1,                                              // version
        0x02, 0x01,                                     // next id
        0x01, 0x00,                                     // subscriptions
        0x03, 0x00, 'a',  '/',  '#',  0x01,             // size, filter, QoS
        0x01, 0x00, 0x00, 0x00,                         // cursors
        0x03, 0x00, 0x00, 0x00,                         // partition
        0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, // offset
        0x01, 0x00, 0x0b, 0x0a,                         // released ids
        0x01, 0x00, 0x0d, 0x0c,                         // awaiting PUBREL
    };
    EXPECT_EQ(encode_session(st), want);
}

// --- Committed cursors ------------------------------------------------------------------------

TEST(SessionRecord, CommittedCursorIsTheFirstMessageInFlight) {
    session_state st;
    st.cursors = {{0, 20}, {1, 30}, {2, 40}, {3, 50}};
    const batch_ptr p0 = batch_of(0, 10, 10); // offsets 10..19
    const batch_ptr p1 = batch_of(1, 0, 30);  // offsets 0..29
    const batch_ptr p2 = batch_of(2, 30, 10); // offsets 30..39
    const batch_ptr p2_old = batch_of(2, 0, 5);
    const batch_ptr p4 = batch_of(4, 5, 5); // a partition with no cursor yet
    // In send order, which is not offset order across batches.
    st.outbound.push_back(in_flight(1, p0, 5));                          // 15
    st.outbound.push_back(in_flight(2, p0, 2, mqtt::qos::exactly_once)); // 12: PUBREC awaited
    st.outbound.push_back(released(3, p0, 1));                           // 11: not lowering
    st.outbound.push_back(in_flight(4, p0, 7));                          // 17
    st.outbound.push_back(released(5, p1, 5));                           // 5: not lowering
    st.outbound.push_back(retained(6, p1, 3));                           // 3: not lowering
    st.outbound.push_back(in_flight(7, p2, 8));                          // 38
    st.outbound.push_back(in_flight(8, p2, 5));                          // 35
    st.outbound.push_back(retained(9, p2_old, 1));                       // 1: not lowering
    st.outbound.push_back(in_flight(10, p4, 2));                         // 7
    const auto got = decode(encode_session(st));
    ASSERT_TRUE(got.has_value());
    const std::map<std::uint32_t, offset> want{{0, 12}, {1, 30}, {2, 35}, {3, 50}, {4, 7}};
    EXPECT_EQ(sorted(got->cursors), want);
    // Only the released ones are kept as messages.
    const std::vector<std::pair<std::uint16_t, bool>> want_outbound{{3, true}, {5, true}};
    EXPECT_EQ(outbound_of(*got), want_outbound);
    // The live session's own cursors are untouched.
    EXPECT_EQ(sorted(st.cursors),
              (std::map<std::uint32_t, offset>{{0, 20}, {1, 30}, {2, 40}, {3, 50}}));
}

TEST(SessionRecord, OnlyReleasedOrRetainedMessagesInFlightLeaveTheCursor) {
    session_state st;
    st.cursors = {{0, 100}};
    const batch_ptr b = batch_of(0, 90, 10);
    st.outbound.push_back(released(1, b, 0));
    st.outbound.push_back(retained(2, b, 1));
    st.outbound.push_back(released(3, b, 9));
    const auto got = decode(encode_session(st));
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(sorted(got->cursors), (std::map<std::uint32_t, offset>{{0, 100}}));

    // A retained message alone in a partition does not add a cursor.
    session_state only_retained;
    only_retained.outbound.push_back(retained(1, batch_of(5, 0, 1), 0));
    const auto none = decode(encode_session(only_retained));
    ASSERT_TRUE(none.has_value());
    EXPECT_TRUE(none->cursors.empty());
}

// --- Rejects ----------------------------------------------------------------------------------

std::vector<std::uint8_t> full_record() {
    session_state st = full_session();
    st.outbound.push_back(released(17, batch_of(7, 0, 1), 0));
    return encode_session(st);
}

TEST(SessionRecord, RejectsAWrongVersion) {
    const std::vector<std::uint8_t> good = full_record();
    ASSERT_TRUE(decode(good).has_value());
    for (std::uint8_t version : {std::uint8_t{0}, std::uint8_t{2}, std::uint8_t{0xff}}) {
        std::vector<std::uint8_t> bytes = good;
        bytes[0] = version;
        EXPECT_FALSE(decode(bytes).has_value()) << int{version};
    }
}

TEST(SessionRecord, RejectsTruncatedInputAtEveryLength) {
    const std::vector<std::uint8_t> good = full_record();
    ASSERT_TRUE(decode(good).has_value());
    for (std::size_t n = 0; n < good.size(); ++n) {
        EXPECT_FALSE(decode(std::span(good).first(n)).has_value()) << n << " of " << good.size();
    }
}

TEST(SessionRecord, RejectsTrailingGarbage) {
    const std::vector<std::uint8_t> good = full_record();
    ASSERT_TRUE(decode(good).has_value());
    for (std::size_t extra : {1u, 2u, 100u}) {
        std::vector<std::uint8_t> bytes = good;
        bytes.resize(bytes.size() + extra, 0);
        EXPECT_FALSE(decode(bytes).has_value()) << extra << " bytes of garbage";
    }
}

TEST(SessionRecord, RejectsCountsBeyondTheInputQuickly) {
    // Counts that promise far more than the bytes hold: refused, without
    // looping over the promised entries or allocating for them.
    const std::vector<std::uint8_t> cursors{1, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};
    EXPECT_FALSE(decode(cursors).has_value());
    const std::vector<std::uint8_t> subscriptions{1, 1, 0, 0xff, 0xff, 0xff, 0xff};
    EXPECT_FALSE(decode(subscriptions).has_value());
    const std::vector<std::uint8_t> released_ids{1, 1, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    EXPECT_FALSE(decode(released_ids).has_value());
}

} // namespace
} // namespace zama::router
