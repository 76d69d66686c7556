#pragma once

#include <string>
#include <system_error>

namespace zama {

/// The words for a system error, for log lines ("No space left on device").
inline std::string message_of(std::errc e) {
    return std::make_error_code(e).message();
}

} // namespace zama
