# `.dockerignore` keeps this folder out of the image.
import main


def test_main_prints_report(capsys):
    main.main()
    assert capsys.readouterr().out.startswith("report: tools 0.4.0\n")
