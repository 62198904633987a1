"""``flask seed-demo`` puts a couple of notifications in the demo citizen's inbox, once."""

from sqlalchemy import select

from backend.extensions import db
from backend.models import User
from notifications.models import Notification


def test_seeding_twice_leaves_the_demo_inbox_as_it_was(runner):
    for _ in range(2):
        result = runner.invoke(args=["seed-demo"])
        assert result.exit_code == 0, result.output
        assert "seeded: demo notifications" in result.output
    citizen = db.session.scalar(select(User).where(User.username == "citizen-demo"))
    titles = db.session.scalars(
        select(Notification.title).where(Notification.user_id == citizen.id)
    ).all()
    assert titles.count("欢迎使用无证明城市") == 1
    assert titles.count("机动车驾驶证将于30天后到期") == 1
