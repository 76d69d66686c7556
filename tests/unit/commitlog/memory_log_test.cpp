// Record batches and the in-memory partition log.

#include "commitlog/memory_log.hpp"

#include <gtest/gtest.h>

#include <string>

namespace zama::commitlog {
namespace {

std::span<const std::uint8_t> bytes_of(const std::string& s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

TEST(RecordBatch, LaysOutRecordsAsPublishBodies) {
    batch_ptr b = batch_ptr::make(partition_id{3}, 100);
    const std::string payload = "payload";
    EXPECT_EQ(b->append("a/b", bytes_of(payload), {1, true}), 100u);
    EXPECT_EQ(b->append("c", {}, {0, false}), 101u);
    ASSERT_EQ(b->size(), 2u);
    EXPECT_EQ(b->end(), 102u);
    const record& r = b->at(0);
    EXPECT_EQ(b->topic(r), "a/b");
    EXPECT_EQ(std::string(b->payload(r).begin(), b->payload(r).end()), payload);
    EXPECT_EQ(r.flags.qos, 1);
    EXPECT_TRUE(r.flags.retain);
    // Topic field: length then name.
    const auto field = b->topic_field(r);
    ASSERT_EQ(field.size(), 5u);
    EXPECT_EQ(field[0], 0);
    EXPECT_EQ(field[1], 3);
    // A header written in front makes one contiguous packet.
    const std::uint8_t header[2] = {0x30, 12};
    b->set_header(0, header);
    const auto packet = b->packet(r);
    ASSERT_EQ(packet.size(), 2u + 2 + 3 + 7);
    EXPECT_EQ(packet[0], 0x30);
    EXPECT_EQ(packet[1], 12);
    EXPECT_EQ(packet[4], 'a');
    EXPECT_EQ(b->by_offset(101).topic_size, 1u);
}

TEST(RecordBatch, ReferenceCountingFreesOnce) {
    batch_ptr a = batch_ptr::make(partition_id{0}, 0);
    {
        batch_ptr b = a;
        batch_ptr c = std::move(b);
        EXPECT_FALSE(b); // NOLINT(bugprone-use-after-move): checks the move
        EXPECT_EQ(c.get(), a.get());
        record_batch* raw = c.leak();
        batch_ptr back = batch_ptr::adopt(raw);
        EXPECT_EQ(back.get(), a.get());
    }
    EXPECT_TRUE(a);
}

batch_ptr filled(memory_log& log, int records, std::size_t payload_size) {
    batch_ptr b = log.open();
    const std::string payload(payload_size, 'x');
    for (int i = 0; i < records; ++i) {
        b->append("t", bytes_of(payload), {});
    }
    return b;
}

TEST(MemoryLog, AppendsAndReadsByOffset) {
    memory_log log(partition_id{1}, 1 << 20);
    log.append(filled(log, 3, 10));
    log.append(filled(log, 2, 10));
    EXPECT_EQ(log.start(), 0u);
    EXPECT_EQ(log.end(), 5u);
    auto from_start = log.read(0, 1 << 20);
    ASSERT_EQ(from_start.size(), 2u);
    EXPECT_EQ(from_start[0]->base(), 0u);
    auto from_middle = log.read(4, 1 << 20);
    ASSERT_EQ(from_middle.size(), 1u);
    EXPECT_EQ(from_middle[0]->base(), 3u);
    EXPECT_TRUE(log.read(5, 1 << 20).empty());
    // A byte budget smaller than a batch still returns one.
    EXPECT_EQ(log.read(0, 1).size(), 1u);
}

TEST(MemoryLog, KeepsBatchesNotYetOnDisk) {
    memory_log log(partition_id{1}, 3000, 100);
    EXPECT_EQ(log.start(), 100u);
    for (int i = 0; i < 10; ++i) {
        log.append(filled(log, 1, 1000), 103); // the disk holds offsets up to 103
    }
    EXPECT_EQ(log.start(), 103u);
    EXPECT_EQ(log.end(), 110u);
    log.trim(110);
    EXPECT_GE(log.start(), 107u);
}

TEST(MemoryLog, DropsOldestWholeBatchesOverItsBound) {
    memory_log log(partition_id{1}, 3000);
    for (int i = 0; i < 10; ++i) {
        log.append(filled(log, 1, 1000));
    }
    EXPECT_EQ(log.end(), 10u);
    EXPECT_LE(log.bytes(), 3000u);
    EXPECT_GE(log.start(), 7u);
    EXPECT_EQ(log.dropped(), log.start());
    // A reader behind the start gets what is left, from the start.
    auto rest = log.read(0, 100);
    ASSERT_FALSE(rest.empty());
    EXPECT_EQ(rest.front()->base(), log.start());
}

TEST(MemoryLog, KeepsTheNewestBatchEvenIfOverTheBound) {
    memory_log log(partition_id{0}, 10);
    log.append(filled(log, 1, 1000));
    EXPECT_EQ(log.start(), 0u);
    EXPECT_EQ(log.end(), 1u);
}

} // namespace
} // namespace zama::commitlog
