#pragma once

#include "base/string_map.hpp"
#include "mqtt/topic.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace zama::router {

/// Topic filters in a trie, one level per node, with a value of type T per
/// filter. match() walks a topic name once against every filter in the
/// trie: '+' matches one level, '#' the rest (and the parent level), and a
/// filter starting with a wildcard matches no '$' topic (MQTT-4.7.2-1).
///
/// Owned by one shard; single-threaded.
template <typename T>
class filter_trie {
  public:
    /// The value for `filter`, created (default) if absent.
    T& at(std::string_view filter) {
        node* n = &_root;
        for_each_level(filter, [&](std::string_view level) {
            auto& child = n->children[std::string(level)];
            if (!child) {
                child = std::make_unique<node>();
            }
            n = child.get();
        });
        if (!n->value) {
            n->value = std::make_unique<T>();
            ++_size;
        }
        return *n->value;
    }

    /// The value for `filter`, or nullptr.
    T* find(std::string_view filter) {
        node* n = &_root;
        bool found = true;
        for_each_level(filter, [&](std::string_view level) {
            if (!found) {
                return;
            }
            auto it = n->children.find(level);
            if (it == n->children.end()) {
                found = false;
                return;
            }
            n = it->second.get();
        });
        return found ? n->value.get() : nullptr;
    }

    /// Removes `filter` and prunes the nodes left empty.
    void erase(std::string_view filter) {
        std::vector<std::string_view> levels;
        for_each_level(filter, [&](std::string_view level) { levels.push_back(level); });
        if (erase(_root, levels, 0)) {
            --_size;
        }
    }

    /// Calls fn(T&) for every filter matching `topic`. (It runs for every
    /// record a shard receives: the levels go into a reused buffer.)
    template <typename Fn>
    void match(std::string_view topic, Fn&& fn) {
        _levels.clear();
        for_each_level(topic, [&](std::string_view level) { _levels.push_back(level); });
        match(_root, _levels, 0, mqtt::is_dollar_topic(topic), fn);
    }

    /// Calls fn(filter, T&) for every filter.
    template <typename Fn>
    void for_each(Fn&& fn) {
        std::string prefix;
        walk(_root, prefix, true, fn);
    }

    std::size_t size() const noexcept { return _size; }
    bool empty() const noexcept { return _size == 0; }

  private:
    struct node {
        string_map<std::unique_ptr<node>> children;
        std::unique_ptr<T> value;
    };

    template <typename Fn>
    static void for_each_level(std::string_view s, Fn&& fn) {
        std::size_t start = 0;
        for (;;) {
            const std::size_t slash = s.find('/', start);
            if (slash == std::string_view::npos) {
                fn(s.substr(start));
                return;
            }
            fn(s.substr(start, slash - start));
            start = slash + 1;
        }
    }

    // Returns true if the filter's value was erased.
    static bool erase(node& n, const std::vector<std::string_view>& levels, std::size_t i) {
        if (i == levels.size()) {
            const bool had = static_cast<bool>(n.value);
            n.value.reset();
            return had;
        }
        auto it = n.children.find(levels[i]);
        if (it == n.children.end()) {
            return false;
        }
        const bool erased = erase(*it->second, levels, i + 1);
        if (!it->second->value && it->second->children.empty()) {
            n.children.erase(it);
        }
        return erased;
    }

    template <typename Fn>
    static void match(node& n, const std::vector<std::string_view>& levels, std::size_t i,
                      bool dollar, Fn& fn) {
        const bool first = i == 0;
        // '#' matches this level and everything below, including nothing
        // ("a/#" matches "a").
        if (!(first && dollar)) {
            if (auto it = n.children.find("#"); it != n.children.end() && it->second->value) {
                fn(*it->second->value);
            }
        }
        if (i == levels.size()) {
            if (n.value) {
                fn(*n.value);
            }
            return;
        }
        if (auto it = n.children.find(levels[i]); it != n.children.end()) {
            match(*it->second, levels, i + 1, dollar, fn);
        }
        if (!(first && dollar)) {
            if (auto it = n.children.find("+"); it != n.children.end()) {
                match(*it->second, levels, i + 1, dollar, fn);
            }
        }
    }

    template <typename Fn>
    static void walk(node& n, std::string& prefix, bool root, Fn& fn) {
        if (n.value) {
            fn(std::string_view(prefix), *n.value);
        }
        for (auto& [level, child] : n.children) {
            const std::size_t keep = prefix.size();
            if (!root) {
                prefix += '/';
            }
            prefix += level;
            walk(*child, prefix, false, fn);
            prefix.resize(keep);
        }
    }

    node _root;
    std::size_t _size = 0;
    std::vector<std::string_view> _levels; // match()'s scratch
};

} // namespace zama::router
