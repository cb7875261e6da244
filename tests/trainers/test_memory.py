from jaxdqn.trainers.memory import cgroup_available_bytes


def test_a_container_memory_limit_counts_as_what_is_available(tmp_path):
    def files(limit, usage):
        (tmp_path / "max").write_text(limit + "\n")
        (tmp_path / "current").write_text(usage + "\n")
        return ((str(tmp_path / "absent"), str(tmp_path / "absent too")), (str(tmp_path / "max"),
                                                                          str(tmp_path / "current")))
    assert cgroup_available_bytes(files(str(4 << 30), str(1 << 30))) == 3 << 30
    assert cgroup_available_bytes(files("max", str(1 << 30))) is None  # cgroup v2 without a limit
    assert cgroup_available_bytes(files(str(2**63 - 4096), "0")) is None  # cgroup v1 without a limit
    assert cgroup_available_bytes(files(str(1 << 30), str(2 << 30))) == 0
    assert cgroup_available_bytes(((str(tmp_path / "absent"), str(tmp_path / "absent")),)) is None
