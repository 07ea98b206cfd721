<?php
header('Location: /form.php?from=redirect');
