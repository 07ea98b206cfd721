<?php echo "hi\n";
