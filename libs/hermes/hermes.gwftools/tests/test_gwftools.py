from hermes import gwftools


def test_frame_batches():
    assert gwftools.frame_batches(["a", "b", "c"], 2) == [["a", "b"], ["c"]]
