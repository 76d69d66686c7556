#pragma once

#include "runtime/file_system.hpp"

namespace zama::rt {

/// Files through the calling shard's io_uring: open, writev, read, fsync,
/// close, rename, unlink, mkdir and statx are ring operations; truncation is
/// one where the kernel has IORING_OP_FTRUNCATE (6.9+); directory listings
/// and syncfs go to the blocking pool (io_uring has neither).
class uring_file_system final : public file_system {
  public:
    task<result<std::unique_ptr<file>, std::errc>> open(std::string path,
                                                        open_options options) override;
    task<result<void, std::errc>> rename(std::string from, std::string to) override;
    task<result<void, std::errc>> remove(std::string path) override;
    task<result<void, std::errc>> make_directory(std::string path) override;
    task<result<void, std::errc>> sync_directory(std::string path) override;
    task<result<std::vector<std::string>, std::errc>> list(std::string directory) override;
};

} // namespace zama::rt
