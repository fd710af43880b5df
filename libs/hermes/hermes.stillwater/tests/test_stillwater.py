from hermes import stillwater


def test_batched_keeps_the_remainder():
    assert list(stillwater.batched(range(5), 2)) == [[0, 1], [2, 3], [4]]
